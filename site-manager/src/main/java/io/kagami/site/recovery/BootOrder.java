package io.kagami.site.recovery;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The order servers start in: by priority group (1 first; group N+1 once every server of group N is
 * healthy), and within a group in waves, each server after the servers it {@code dependsOn}. A
 * dependency on a server of an earlier group is met by the group order; one on a later group, on an
 * unknown server, or a cycle is a problem, named with the server, the key and, for a cycle, the
 * whole cycle ({@code db → cache → db}). Pure: computed from the profiles alone.
 */
final class BootOrder {
  private BootOrder() {}

  static List<RecoveryPlan.Group> of(List<ServerProfile> servers, List<PlanProblem> problems) {
    Map<String, ServerProfile> byName = new LinkedHashMap<>();
    for (ServerProfile s : servers) {
      byName.put(s.name(), s);
    }
    // The dependencies that order servers within their group; the others are checked and dropped.
    Map<String, List<String>> edges = new LinkedHashMap<>();
    for (ServerProfile s : servers) {
      List<String> same = new ArrayList<>();
      for (int i = 0; i < s.dependsOn().size(); i++) {
        String d = s.dependsOn().get(i);
        ServerProfile dep = byName.get(d);
        String key = "dependsOn[" + i + "]";
        if (dep == null) {
          problems.add(
              PlanProblem.of(
                  s.name(),
                  key,
                  "dependsOn \""
                      + d
                      + "\" is not a server of recovery.yaml (servers: "
                      + String.join(", ", byName.keySet())
                      + ")"));
        } else if (dep.priority() > s.priority()) {
          problems.add(
              PlanProblem.of(
                  s.name(),
                  key,
                  "dependsOn \""
                      + d
                      + "\", which starts later, in priority group "
                      + dep.priority()
                      + " (this server is in group "
                      + s.priority()
                      + "): give \""
                      + d
                      + "\" priority "
                      + s.priority()
                      + " or less, or this server "
                      + dep.priority()
                      + " or more"));
        } else if (dep.priority() == s.priority()) {
          same.add(d);
        }
      }
      edges.put(s.name(), same);
    }
    List<String> inCycle = cycles(edges, problems);
    Map<String, Integer> wave = new HashMap<>();
    for (String s : edges.keySet()) {
      if (!inCycle.contains(s)) {
        wave(s, edges, wave, inCycle);
      }
    }
    TreeMap<Integer, TreeMap<Integer, List<String>>> groups = new TreeMap<>();
    for (ServerProfile s : servers) {
      Integer w = wave.get(s.name());
      if (w != null && w >= 0) {
        groups
            .computeIfAbsent(s.priority(), p -> new TreeMap<>())
            .computeIfAbsent(w, x -> new ArrayList<>())
            .add(s.name());
      }
    }
    List<RecoveryPlan.Group> out = new ArrayList<>();
    groups.forEach(
        (p, waves) ->
            out.add(new RecoveryPlan.Group(p, List.copyOf(new ArrayList<>(waves.values())))));
    return out;
  }

  /**
   * The wave of {@code s}: 0 without dependencies in its group, else one after its latest; -1 when
   * it waits on a cycle (it can never start).
   */
  private static int wave(
      String s, Map<String, List<String>> edges, Map<String, Integer> memo, List<String> inCycle) {
    Integer known = memo.get(s);
    if (known != null) {
      return known;
    }
    if (inCycle.contains(s)) {
      return -1;
    }
    int w = 0;
    for (String d : edges.get(s)) {
      int dw = wave(d, edges, memo, inCycle);
      if (dw < 0) {
        w = -1;
        break;
      }
      w = Math.max(w, dw + 1);
    }
    memo.put(s, w);
    return w;
  }

  /**
   * Finds every dependency cycle by depth-first search, adds a problem naming each once (on the
   * first of its servers in recovery.yaml's order), and returns the servers on a cycle.
   */
  private static List<String> cycles(Map<String, List<String>> edges, List<PlanProblem> problems) {
    List<String> order = new ArrayList<>(edges.keySet());
    Map<String, Integer> state = new HashMap<>(); // absent: unseen, 1: on the path, 2: done
    List<String> inCycle = new ArrayList<>();
    List<String> path = new ArrayList<>();
    for (String start : order) {
      if (!state.containsKey(start)) {
        visit(start, edges, state, path, inCycle, order, problems);
      }
    }
    return inCycle;
  }

  private static void visit(
      String s,
      Map<String, List<String>> edges,
      Map<String, Integer> state,
      List<String> path,
      List<String> inCycle,
      List<String> order,
      List<PlanProblem> problems) {
    state.put(s, 1);
    path.add(s);
    for (String d : edges.get(s)) {
      Integer st = state.get(d);
      if (st == null) {
        visit(d, edges, state, path, inCycle, order, problems);
      } else if (st == 1) {
        List<String> cycle = new ArrayList<>(path.subList(path.indexOf(d), path.size()));
        // Name the cycle from its first server in the file, so the message is stable.
        String first = cycle.stream().min((a, b) -> order.indexOf(a) - order.indexOf(b)).get();
        int at = cycle.indexOf(first);
        List<String> rotated = new ArrayList<>(cycle.subList(at, cycle.size()));
        rotated.addAll(cycle.subList(0, at));
        rotated.add(first);
        String next = rotated.get(1);
        problems.add(
            PlanProblem.of(
                first,
                "dependsOn",
                "dependsOn forms a cycle: "
                    + String.join(" → ", rotated)
                    + " (none of them could ever start; remove one of these dependencies, e.g. \""
                    + next
                    + "\" from "
                    + first
                    + "'s dependsOn)"));
        for (String c : cycle) {
          if (!inCycle.contains(c)) {
            inCycle.add(c);
          }
        }
      }
    }
    path.remove(path.size() - 1);
    state.put(s, 2);
  }
}
