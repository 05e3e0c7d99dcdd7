package io.kagami.wan.frame;

import java.util.Arrays;
import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;

/**
 * The 128-bit checksum a full copy compares regions by: two XXH64 of the data with different seeds.
 * Not cryptographic (the peer is authenticated by TLS); its job is to tell a region the standby
 * already holds from one it needs, with a collision chance far below disk error rates.
 */
public final class RegionSum {
  public static final int BYTES = 16;
  private static final XXHash64 XXH = XXHashFactory.fastestJavaInstance().hash64();
  private static final long SEED_A = 0x4b4147414d49L; // "KAGAMI"
  private static final long SEED_B = 0x9e3779b97f4a7c15L;

  private RegionSum() {}

  public static byte[] of(byte[] data) {
    long a = XXH.hash(data, 0, data.length, SEED_A);
    long b = XXH.hash(data, 0, data.length, SEED_B);
    byte[] out = new byte[BYTES];
    for (int i = 0; i < 8; i++) {
      out[i] = (byte) (a >>> (56 - 8 * i));
      out[8 + i] = (byte) (b >>> (56 - 8 * i));
    }
    return out;
  }

  public static boolean matches(byte[] data, byte[] sum) {
    return Arrays.equals(of(data), sum);
  }
}
