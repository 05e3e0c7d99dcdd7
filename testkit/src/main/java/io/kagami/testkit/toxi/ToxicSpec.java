package io.kagami.testkit.toxi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One toxic as the API describes it: immutable, validated in one place ({@link #validated}).
 *
 * <p>Parsing follows Toxiproxy: on create, {@code stream} defaults to downstream, {@code toxicity}
 * to 1, a missing name to {@code <type>_<stream>}, missing attributes to 0; on update, only the
 * fields present change. Stricter than Toxiproxy where it only hides test mistakes: unknown or
 * non-integer attributes, negative values, and a slicer that cannot slice are refused (400).
 */
record ToxicSpec(
    String name,
    ToxicType type,
    StreamDirection stream,
    float toxicity,
    Map<String, Long> attributes) {

  ToxicSpec {
    attributes = Map.copyOf(attributes);
  }

  long attribute(String attributeName) {
    Long value = attributes.get(attributeName);
    if (value == null) {
      throw new IllegalArgumentException(type.wireName() + " has no attribute " + attributeName);
    }
    return value;
  }

  /** A new toxic from a create request body. */
  static ToxicSpec fromCreateRequest(JsonNode body) throws ApiException {
    if (body == null || !body.isObject()) {
      throw ApiException.badRequest("bad request body: expected a JSON object");
    }
    ToxicType type = ToxicType.parse(requireText(body, "type", null));
    StreamDirection stream = StreamDirection.parse(requireText(body, "stream", "downstream"));
    String name = requireText(body, "name", "");
    if (name.isEmpty()) {
      name = type.wireName() + "_" + stream.wireName();
    }
    Map<String, Long> attributes = new LinkedHashMap<>();
    for (String attribute : type.attributes()) {
      attributes.put(attribute, 0L);
    }
    float toxicity = body.has("toxicity") ? parseToxicity(body.get("toxicity")) : 1f;
    mergeAttributes(type, attributes, body.get("attributes"));
    return validated(name, type, stream, toxicity, attributes);
  }

  /** This toxic with the fields of an update request body applied (toxicity, attributes). */
  ToxicSpec updatedBy(JsonNode body) throws ApiException {
    if (body == null || !body.isObject()) {
      throw ApiException.badRequest("bad request body: expected a JSON object");
    }
    Map<String, Long> merged = new LinkedHashMap<>();
    for (String attribute : type.attributes()) {
      merged.put(attribute, attributes.get(attribute));
    }
    mergeAttributes(type, merged, body.get("attributes"));
    float newToxicity = body.has("toxicity") ? parseToxicity(body.get("toxicity")) : toxicity;
    return validated(name, type, stream, newToxicity, merged);
  }

  /** The toxic as Toxiproxy renders it. */
  ObjectNode toJson() {
    ObjectNode node = JsonNodeFactory.instance.objectNode();
    ObjectNode attrs = node.putObject("attributes");
    for (String attribute : type.attributes()) {
      attrs.put(attribute, attributes.get(attribute));
    }
    node.put("name", name);
    node.put("type", type.wireName());
    node.put("stream", stream.wireName());
    node.put("toxicity", toxicity);
    return node;
  }

  private static ToxicSpec validated(
      String name,
      ToxicType type,
      StreamDirection stream,
      float toxicity,
      Map<String, Long> attributes)
      throws ApiException {
    String prefix = "toxic \"" + name + "\" (" + type.wireName() + "): ";
    if (!(toxicity >= 0f && toxicity <= 1f)) {
      throw ApiException.badRequest(
          prefix + "toxicity " + toxicity + " is not allowed (must be between 0 and 1)");
    }
    for (Map.Entry<String, Long> attribute : attributes.entrySet()) {
      if (attribute.getValue() < 0) {
        throw ApiException.badRequest(
            prefix
                + attribute.getKey()
                + " "
                + attribute.getValue()
                + " is not allowed (must be at least 0)");
      }
    }
    if (type == ToxicType.SLICER) {
      long average = attributes.get("average_size");
      long variation = attributes.get("size_variation");
      if (average < 1) {
        throw ApiException.badRequest(
            prefix + "average_size " + average + " is not allowed (must be at least 1)");
      }
      // Toxiproxy's slicing splits around the middle by up to ±variation: beyond the average
      // size a piece would get a negative length.
      if (variation >= average) {
        throw ApiException.badRequest(
            prefix
                + "size_variation "
                + variation
                + " is not allowed (must be less than average_size "
                + average
                + ")");
      }
    }
    return new ToxicSpec(name, type, stream, toxicity, attributes);
  }

  private static void mergeAttributes(ToxicType type, Map<String, Long> into, JsonNode given)
      throws ApiException {
    if (given == null || given.isNull()) {
      return;
    }
    if (!given.isObject()) {
      throw ApiException.badRequest("bad request body: attributes must be a JSON object");
    }
    for (Map.Entry<String, JsonNode> field : given.properties()) {
      if (!into.containsKey(field.getKey())) {
        throw ApiException.badRequest(
            "bad toxic attributes: "
                + type.wireName()
                + " has no attribute \""
                + field.getKey()
                + "\" (it has "
                + String.join(", ", type.attributes())
                + ")");
      }
      JsonNode value = field.getValue();
      if (value.isNull()) {
        continue;
      }
      if (!value.isIntegralNumber() || !value.canConvertToLong()) {
        throw ApiException.badRequest(
            "bad toxic attributes: "
                + type.wireName()
                + " attribute \""
                + field.getKey()
                + "\" must be an integer, got "
                + value);
      }
      into.put(field.getKey(), value.longValue());
    }
  }

  private static float parseToxicity(JsonNode value) throws ApiException {
    if (!value.isNumber()) {
      throw ApiException.badRequest("bad request body: toxicity must be a number, got " + value);
    }
    return value.floatValue();
  }

  private static String requireText(JsonNode body, String field, String fallback)
      throws ApiException {
    JsonNode value = body.get(field);
    if (value == null || value.isNull()) {
      if (fallback == null) {
        throw ApiException.badRequest("missing required field: " + field);
      }
      return fallback;
    }
    if (!value.isTextual()) {
      throw ApiException.badRequest(
          "bad request body: " + field + " must be a string, got " + value);
    }
    return value.asText();
  }
}
