package io.kagami.failover.fence;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How to fence the peer: an external agent with the fence_ipmilan / fence_virsh interface (the
 * fence-agents project's convention): options arrive as {@code key=value} lines on stdin, the
 * action among them ({@code action=off}); {@code argv} may carry options as arguments too. Success
 * is exit status 0 and nothing else.
 *
 * @param argv the program and its arguments, e.g. {@code [/usr/sbin/fence_ipmilan]}
 * @param options written to stdin as {@code key=value} lines, e.g. {@code ip=10.0.0.9}, {@code
 *     username=admin}, {@code plug=tokyo-vm}; {@code action} is added by the agent
 * @param timeout after which the agent is killed and fencing counts as failed
 */
public record FenceCommand(List<String> argv, Map<String, String> options, Duration timeout) {
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

  public FenceCommand {
    if (argv == null || argv.isEmpty() || argv.getFirst() == null || argv.getFirst().isBlank()) {
      throw new IllegalArgumentException(
          "failover.fence.command: the fence agent's program is missing (e.g. [fence_ipmilan])");
    }
    argv = List.copyOf(argv);
    options =
        options == null
            ? Map.of()
            : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(options));
    for (Map.Entry<String, String> e : options.entrySet()) {
      if (e.getKey().isBlank()
          || e.getKey().contains("=")
          || e.getKey().contains("\n")
          || e.getValue() == null
          || e.getValue().contains("\n")) {
        throw new IllegalArgumentException(
            "failover.fence.options: \""
                + e.getKey()
                + "\" cannot be passed as one key=value line (no '=' in keys, no newlines, a value is needed)");
      }
    }
    if (options.containsKey("action")) {
      throw new IllegalArgumentException(
          "failover.fence.options: do not set \"action\"; Kagami passes action=off (or the action it needs)");
    }
    timeout = timeout == null ? DEFAULT_TIMEOUT : timeout;
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("failover.fence.timeout must be positive, got " + timeout);
    }
  }
}
