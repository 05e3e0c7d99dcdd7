/**
 * The witness over the network: {@link io.kagami.site.witness.WitnessServer}, the small HTTP
 * service that {@code kagami witness} runs at a third location around the pure lease rules of
 * {@code io.kagami.failover.witness.WitnessState}, and {@link
 * io.kagami.site.witness.WitnessClient}, a site's renew/claim/release requests to it. Both speak
 * the JSON documented on the server; the decisions stay in the failover-policy module.
 */
package io.kagami.site.witness;
