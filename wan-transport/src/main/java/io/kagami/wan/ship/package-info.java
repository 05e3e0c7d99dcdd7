/** The primary's end of a link: reads a journal through {@link io.kagami.wan.ship.ShipSource} and ships it. */
package io.kagami.wan.ship;
