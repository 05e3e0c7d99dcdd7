package io.kagami.appliance.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** JSON of the admin API, and the small functional shapes the appliance tests wait with. */
final class Json {
  static final ObjectMapper MAPPER = new ObjectMapper();

  /** A check of a status document. */
  interface Check {
    boolean test(JsonNode status) throws Exception;
  }

  /** A condition polled until it holds. */
  interface Condition {
    boolean holds() throws Exception;
  }

  private Json() {}
}
