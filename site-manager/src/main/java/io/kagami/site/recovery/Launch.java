package io.kagami.site.recovery;

import java.nio.file.Path;

/**
 * Where and how one server is started: the site's NBD address (each disk is the export named as its
 * volume), whether it is a drill, and the files the VM keeps.
 *
 * @param drill true: each disk is the volume's Kagami drill clone ({@code <volume>-drill}, started
 *     by the recovery at the run's point; the guest's writes stay in the clone and are discarded
 *     when the drill stops), and NICs join their drill networks
 * @param nvram the server's UEFI variable store (copied from OVMF's template on first start);
 *     unused with BIOS
 * @param console where the serial console is logged (for a {@code console} health check)
 */
public record Launch(String nbdHost, int nbdPort, boolean drill, Path nvram, Path console) {}
