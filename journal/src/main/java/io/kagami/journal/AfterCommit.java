package io.kagami.journal;

/**
 * Work that follows a commit, run in sequence order on the journal's after-commit thread once the
 * append's future has completed (the primary writes its local volume here, so volume order is
 * journal order). It does not delay the acknowledgement: whoever reads what the hook writes must
 * wait for it (the primary's reads wait until the volume file has caught up). A hook must handle
 * its own failures; an exception is only logged, since the append was already acknowledged.
 */
@FunctionalInterface
public interface AfterCommit {
  void committed(long seq);
}
