/** Network helpers for tests: loopback ports a test may bind. */
package io.kagami.testkit.net;
