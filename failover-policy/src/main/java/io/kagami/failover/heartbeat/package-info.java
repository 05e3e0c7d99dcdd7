/**
 * What one site tells its peer ({@link io.kagami.failover.heartbeat.Heartbeat}) and how silence is
 * judged over several independent paths ({@link io.kagami.failover.heartbeat.HeartbeatTracker}):
 * the peer is lost only when every path has been silent for {@code lostAfter}. Pure values and
 * state; the site manager carries heartbeats over the WAN link and its admin HTTP port.
 */
package io.kagami.failover.heartbeat;
