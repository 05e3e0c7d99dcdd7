package io.kagami.testkit.toxi;

/**
 * A request the Toxiproxy API refuses, with the HTTP status Toxiproxy itself answers (400 bad body
 * or attributes, 404 unknown proxy or toxic, 409 duplicate name, 500 listen failure). The server
 * turns it into {@code {"error": message, "status": status}}.
 */
final class ApiException extends Exception {
  private final int status;

  ApiException(int status, String message) {
    super(message, null, false, false);
    this.status = status;
  }

  int status() {
    return status;
  }

  static ApiException badRequest(String message) {
    return new ApiException(400, message);
  }

  static ApiException notFound(String message) {
    return new ApiException(404, message);
  }

  static ApiException conflict(String message) {
    return new ApiException(409, message);
  }
}
