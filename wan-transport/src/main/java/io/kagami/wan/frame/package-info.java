/** The WAN wire format: versioned, length-prefixed frames and their Netty codec. */
package io.kagami.wan.frame;
