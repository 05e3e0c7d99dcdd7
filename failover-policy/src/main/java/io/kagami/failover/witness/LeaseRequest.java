package io.kagami.failover.witness;

/**
 * A renew, claim or release request (JSON body of the witness's POST endpoints).
 *
 * @param group the pair / volume-group id
 * @param site the requesting site
 * @param term for renew and release: the term the site holds; for claim: the newest term the site
 *     knows of (the new term will be higher, even if the witness lost its memory)
 */
public record LeaseRequest(String group, String site, long term) {}
