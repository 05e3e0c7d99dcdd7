/**
 * Tests of the Kagami appliance image: real QEMU (TCG) virtual machines booted from the image the
 * scripts in {@code appliance-image/image/} build, seeded through a CIDATA volume, paired over a
 * network the test wires between them, and driven from the host only through their NBD and admin
 * ports (forwarded to loopback) and their serial consoles.
 */
package io.kagami.appliance.image;
