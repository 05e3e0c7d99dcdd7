/**
 * Recovery profiles and the recovery plan: how each protected server is started on the DR site from
 * its replicated volumes (vCPUs, memory, machine, firmware, disk bus, NICs, boot group,
 * dependencies, health check, timeouts), read from {@code recovery.yaml} beside the site's YAML;
 * the pure planner that checks a set of profiles against the DR host and the site's volumes and
 * derives the boot order; and the QEMU command line and libvirt domain XML a profile becomes.
 *
 * <p>Planning reads only: the profiles file, {@code /proc/meminfo}, the CPU count, whether QEMU and
 * OVMF are installed, and the site's volume states. Nothing here starts a VM: {@code
 * io.kagami.site.recovery.run} does ({@code kagami recover}); {@code kagami recover plan} and
 * {@code GET /recover/plan} are the planning surface.
 */
package io.kagami.site.recovery;
