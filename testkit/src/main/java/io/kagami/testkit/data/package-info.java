/**
 * Test data: deterministic, seeded data files and their checksums, so a test can write known bytes
 * and compare a replica byte for byte.
 */
package io.kagami.testkit.data;
