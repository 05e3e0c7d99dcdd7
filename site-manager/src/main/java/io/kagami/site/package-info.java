/**
 * A site, assembled: {@code Site} starts the journal, volumes, WAN link, NBD and admin servers in
 * data-flow order and closes them in reverse; {@code Peer} holds everything towards one peer site
 * (its role, link, volumes and exports); role changes ({@code StandbyPromoter}, {@code Switchover},
 * {@code Failback}) wait on futures, one at a time; {@code HousekeepingAgent} checkpoints and
 * watches history; {@code SiteStatusView} derives the status every surface shows.
 */
package io.kagami.site;
