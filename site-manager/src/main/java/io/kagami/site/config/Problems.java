package io.kagami.site.config;

import java.util.AbstractList;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every problem and warning found while loading one configuration, each with the key it is about,
 * collected so that all are reported at once (nothing stops at the first).
 *
 * <p>Section readers say the key: {@link #add(String, String)}. The list view of plain strings
 * ({@link #add(String)}) is kept for readers that phrase a whole sentence starting with the key
 * ({@code failover.witness is required ...}): the key is then the first key path in the sentence
 * whose first part is a top-level key seen by {@link #topLevel} ({@code unknown key X}: X). A
 * sentence naming no key gets the empty key and is printed as {@code FILE: REASON}.
 *
 * <p>Warnings ({@link #warn}) do not stop a site from starting; they are printed by {@code kagami
 * config check} and logged by {@code kagami run}. Not thread-safe: one per load.
 */
final class Problems extends AbstractList<String> {
  private static final Pattern KEY_PATH =
      Pattern.compile(
          "(?<![\\w/.\\-\\[])([A-Za-z][A-Za-z0-9_]*)((?:\\[\\d+])?(?:\\.[A-Za-z0-9_]+(?:\\[\\d+])?)*)");
  private static final Pattern UNKNOWN_KEY = Pattern.compile("^unknown key (\\S+)");

  private final List<Keyed> problems = new ArrayList<>();
  private final List<Keyed> warnings = new ArrayList<>();
  private final Set<String> topLevel = new HashSet<>();

  private record Keyed(String key, String reason) {}

  /** The configuration's top-level keys, so that sentences can be attributed to a key. */
  void topLevel(String... keys) {
    topLevel.addAll(List.of(keys));
  }

  /** A problem with {@code key} (a path such as {@code volumes[1].size}). */
  void add(String key, String reason) {
    problems.add(new Keyed(key, reason));
  }

  /** Something that does not stop the site from starting but that the operator should see. */
  void warn(String key, String reason) {
    warnings.add(new Keyed(key, reason));
  }

  /** A problem phrased as one sentence that names its key (see the class comment). */
  @Override
  public boolean add(String sentence) {
    problems.add(new Keyed(keyOf(sentence), sentence));
    return true;
  }

  @Override
  public String get(int index) {
    Keyed k = problems.get(index);
    return new ConfigProblem("", k.key(), k.reason()).toString().substring(2);
  }

  @Override
  public int size() {
    return problems.size();
  }

  List<ConfigProblem> problems(String file) {
    return problems.stream().map(k -> new ConfigProblem(file, k.key(), k.reason())).toList();
  }

  List<ConfigProblem> warnings(String file) {
    return warnings.stream().map(k -> new ConfigProblem(file, k.key(), k.reason())).toList();
  }

  String keyOf(String sentence) {
    Matcher unknown = UNKNOWN_KEY.matcher(sentence);
    if (unknown.find()) {
      return unknown.group(1);
    }
    Matcher m = KEY_PATH.matcher(sentence);
    while (m.find()) {
      if (topLevel.contains(m.group(1))) {
        return m.group(1) + m.group(2);
      }
    }
    return "";
  }
}
