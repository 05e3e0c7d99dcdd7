package io.kagami.testkit.toxi;

import java.util.Locale;

/**
 * Which way a toxic acts, named as Toxiproxy names its {@code stream} attribute: {@code upstream}
 * is data from the client towards the upstream server, {@code downstream} the replies.
 */
enum StreamDirection {
  UPSTREAM,
  DOWNSTREAM;

  String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  static StreamDirection parse(String value) throws ApiException {
    return switch (value) {
      case "upstream" -> UPSTREAM;
      case "downstream" -> DOWNSTREAM;
      default ->
          throw ApiException.badRequest(
              "stream was invalid, can be either upstream or downstream (got \"" + value + "\")");
    };
  }
}
