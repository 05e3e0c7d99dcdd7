/**
 * Running the real external tools tests drive (qemu-img, nbdcopy, fio, ...): bounded in time, with
 * a clear error when a tool is missing.
 */
package io.kagami.testkit.tools;
