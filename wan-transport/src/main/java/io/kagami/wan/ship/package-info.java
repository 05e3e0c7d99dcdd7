/**
 * The primary's end of a link: reads a journal through {@link io.kagami.wan.ship.ShipSource} and
 * ships it to one standby. {@link io.kagami.wan.ship.Shipper} assembles one link per peer and owns
 * its lifecycle; its agent thread runs the connection cycle and pumps history ({@code BatchPump})
 * or regions ({@code RegionCopier}) per volume stream, while the event loop only applies what the
 * standby sends ({@code InboundFrameHandler}). docs/architecture-wan-ship.md lists every class with
 * its thread and what it may block on.
 */
package io.kagami.wan.ship;
