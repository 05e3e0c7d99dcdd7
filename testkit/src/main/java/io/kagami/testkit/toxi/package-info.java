/**
 * Network fault injection for tests: a Toxiproxy-compatible proxy that runs inside the test JVM, or
 * a real Toxiproxy when one is available.
 *
 * <p>Tests start with {@link io.kagami.testkit.toxi.Toxiproxies#start(long)} and drive faults only
 * through the official client ({@code eu.rekawek.toxiproxy:toxiproxy-java}):
 *
 * <pre>{@code
 * try (Toxiproxies toxiproxies = Toxiproxies.start(seed)) {
 *   Proxy wan = toxiproxies.proxy("wan", standby.wanAddress());   // free loopback port -> upstream
 *   InetSocketAddress viaProxy = toxiproxies.listenAddress(wan);    // point the shipper here
 *   Latency latency = wan.toxics().latency("wan-latency", ToxicDirection.DOWNSTREAM, 40);
 *   wan.toxics().bandwidth("wan-12mbit", ToxicDirection.UPSTREAM, 1_500);   // KB/s, 1 KB = 1000 B
 *   ...
 *   latency.remove();              // synchronous: live connections are affected when it returns
 *   toxiproxies.removeToxics(wan); // everything off, proxy stays
 *   wan.disable();                 // closes every connection, stops listening; enable() reopens
 * }
 * }</pre>
 *
 * <p>With the environment variable {@code TOXIPROXY_URL} set (e.g. {@code
 * TOXIPROXY_URL=http://127.0.0.1:8474 mvn -B -pl testkit -am verify}), the same tests run against
 * that server instead; close deletes only the proxies the handle created. Without it, a {@link
 * io.kagami.testkit.toxi.ToxiproxyServer} starts on 127.0.0.1 on an ephemeral port.
 *
 * <p>Toxics: {@code latency} (latency, jitter ms), {@code bandwidth} (rate KB/s), {@code
 * slow_close} (delay ms), {@code timeout} (timeout ms; 0 = drop data and hold the connection until
 * removed), {@code reset_peer} (timeout ms after the first data, then RST), {@code slicer}
 * (average_size, size_variation bytes, delay µs), {@code limit_data} (bytes). Semantics follow
 * Toxiproxy's source, including on live connections: removing latency, bandwidth or slicer hands on
 * the data they held; removing {@code timeout} closes the connections it held (its data was
 * dropped, as in Toxiproxy); a {@code toxicity} below 1 is drawn once per connection and direction
 * from the server's seeded random source, so a failing run can be replayed with its printed seed.
 */
package io.kagami.testkit.toxi;
