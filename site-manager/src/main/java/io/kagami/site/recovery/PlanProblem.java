package io.kagami.site.recovery;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One reason a recovery could not run as planned, named the way the operator fixes it: the server
 * and the recovery.yaml key (or the DR host, or the file), and a sentence that says the value and
 * what would be accepted, e.g. {@code server "db": memory 64GiB exceeds the DR host's 7.7 GiB}.
 *
 * @param server the server's name; null when the problem is the file's, the defaults' or the DR
 *     host's
 * @param key the key in recovery.yaml as written under the server (e.g. {@code memory}, {@code
 *     volumes[1]}, {@code nics[0].network}), or under the file ({@code defaults.diskBus}); null
 *     when no key is at fault
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record PlanProblem(String server, String key, String message) {

  /** A problem of {@code server}'s {@code key}: the message starts {@code server "NAME": }. */
  static PlanProblem of(String server, String key, String text) {
    return new PlanProblem(server, key, "server \"" + server + "\": " + text);
  }

  /** A problem outside any server: the file, its defaults or networks, or the DR host. */
  static PlanProblem general(String key, String text) {
    return new PlanProblem(null, key, text);
  }

  @Override
  public String toString() {
    return message;
  }
}
