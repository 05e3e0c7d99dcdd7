/** The standby's end: accepts paired primaries and stores what they ship through {@link io.kagami.wan.receive.ReceiveSink}. */
package io.kagami.wan.receive;
