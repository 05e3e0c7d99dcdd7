/**
 * Recovery runs ({@code kagami recover}): the orchestrator that prepares each protected server's
 * disks (a point-in-time promotion, or Kagami drill clones at one point), starts its VM (QEMU, TCG
 * when KVM is unusable, or libvirt), follows its serial console and waits for its health check, by
 * priority group and {@code dependsOn}; the persisted state that lets {@code recover stop} and a
 * restarted site remove everything a run made; and the per-run report (RPO, RTO and its parts, the
 * boot order observed) with the points each drill tested.
 *
 * <p>Threads: the orchestrator's own {@code kagami-recover} (every decision and state change), a
 * timer {@code kagami-recover-timer} (health deadlines, TCP/HTTP probe retries, the drill's
 * time-to-live) and {@code kagami-recover-console} (inotify on the consoles' directory). Waits are
 * futures; nothing polls a process or sleeps.
 */
package io.kagami.site.recovery.run;
