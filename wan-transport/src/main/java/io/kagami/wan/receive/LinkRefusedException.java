package io.kagami.wan.receive;

/** The standby will not accept a primary's volume; the reason goes back to the primary verbatim. */
public final class LinkRefusedException extends Exception {
  public LinkRefusedException(String reason) {
    super(reason);
  }
}
