package io.kagami.journal;

/**
 * Work that must follow a commit and precede its acknowledgement, run on the journal thread in
 * sequence order (the primary writes its local volume here, so volume order is journal order).
 */
@FunctionalInterface
public interface AfterCommit {
  void committed(long seq);
}
