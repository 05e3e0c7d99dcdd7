/**
 * NBD clients and servers for tests: a raw NBD client that can send malformed input, a well-behaved
 * test client, and a qemu-nbd baseline server.
 */
package io.kagami.testkit.nbd;
