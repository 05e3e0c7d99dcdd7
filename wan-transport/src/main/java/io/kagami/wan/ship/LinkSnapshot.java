package io.kagami.wan.ship;

import java.util.Map;

/**
 * The shipper's view of its link, for status and metrics.
 *
 * @param lastAcked per volume, the highest sequence number the standby holds durably
 * @param rawBytes journal entry bytes shipped (as stored, before batch compression)
 * @param wireBytes frame bytes written to the connection
 * @param lastError the last reason the link went down or was refused, or null
 */
public record LinkSnapshot(boolean connected, String peerSiteId, String address, Map<String, Long> lastSent, Map<String, Long> lastAcked, long rawBytes, long wireBytes, String lastError) {}
