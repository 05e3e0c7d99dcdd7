package io.kagami.site.recovery;

import java.nio.file.Path;

/**
 * Where and how one server is started: the site's NBD address (each disk is the export named as its
 * volume), whether it is a drill, and the files the VM keeps.
 *
 * @param drill true: disks are only read; the guest's writes go to a throwaway overlay (QEMU {@code
 *     snapshot=on}, libvirt {@code <transient/>}), and NICs join their drill networks
 * @param nvram the server's UEFI variable store (copied from OVMF's template on first start);
 *     unused with BIOS
 * @param console where the serial console is logged (for a {@code console} health check)
 */
public record Launch(String nbdHost, int nbdPort, boolean drill, Path nvram, Path console) {}
