package io.kagami.replicator.verify;

import io.kagami.replicator.volume.FileVolume;
import java.io.IOException;
import java.nio.ByteBuffer;
import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;

/**
 * The checksum both sites take of a verification region: XXH64 of its bytes as the volume file
 * reads them (holes read as zeroes on both). Not cryptographic; it tells a flipped bit from an
 * equal region with a collision chance far below disk error rates. Reuses one buffer: one instance
 * per thread that checksums.
 */
public final class RegionChecksum {
  private static final XXHash64 XXH = XXHashFactory.fastestJavaInstance().hash64();
  private static final long SEED = 0x4b4147414d49L; // "KAGAMI"

  private byte[] buffer = new byte[0];

  /** The checksum of {@code file}'s bytes {@code [offset, offset + length)}. */
  public long of(FileVolume file, long offset, int length) throws IOException {
    if (buffer.length < length) {
      buffer = new byte[length];
    }
    ByteBuffer dst = ByteBuffer.wrap(buffer, 0, length);
    file.read(offset, dst);
    return XXH.hash(buffer, 0, length, SEED);
  }
}
