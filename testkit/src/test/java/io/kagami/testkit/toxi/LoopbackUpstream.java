package io.kagami.testkit.toxi;

import io.kagami.testkit.net.FreePorts;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** A loopback TCP server for proxy tests: each accepted connection is handed to a behaviour. */
final class LoopbackUpstream implements AutoCloseable {
  interface Behaviour {
    void serve(Socket socket) throws IOException;
  }

  private final ServerSocket listener;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();

  private LoopbackUpstream(ServerSocket listener, Behaviour behaviour) {
    this.listener = listener;
    Thread.ofVirtual()
        .name("test-upstream-accept")
        .start(
            () -> {
              while (true) {
                Socket socket;
                try {
                  socket = listener.accept();
                } catch (IOException closed) {
                  return;
                }
                open.add(socket);
                Thread.ofVirtual()
                    .name("test-upstream-conn")
                    .start(
                        () -> {
                          try (socket) {
                            behaviour.serve(socket);
                          } catch (IOException peerGone) {
                            // The proxy closed or reset the connection: part of what these tests
                            // provoke.
                          } finally {
                            open.remove(socket);
                          }
                        });
              }
            });
  }

  static LoopbackUpstream start(Behaviour behaviour) throws IOException {
    return new LoopbackUpstream(new ServerSocket(0, 128, FreePorts.loopback()), behaviour);
  }

  /** Writes back whatever it reads until the peer closes. */
  static LoopbackUpstream echo() throws IOException {
    return start(
        socket -> {
          socket.setTcpNoDelay(true);
          InputStream in = socket.getInputStream();
          OutputStream out = socket.getOutputStream();
          byte[] buffer = new byte[64 * 1024];
          int n;
          while ((n = in.read(buffer)) >= 0) {
            out.write(buffer, 0, n);
          }
        });
  }

  /** Sends {@code payload} in one write, then closes. */
  static LoopbackUpstream sending(byte[] payload) throws IOException {
    return start(socket -> socket.getOutputStream().write(payload));
  }

  InetSocketAddress address() {
    return new InetSocketAddress(FreePorts.loopback(), listener.getLocalPort());
  }

  @Override
  public void close() throws IOException {
    listener.close();
    for (Socket socket : open) {
      socket.close();
    }
  }
}
