package io.kagami.site.admin;

import java.util.List;

/** The body of {@code GET /status}: the site, its link and each volume. */
public record SiteStatus(String siteId, String role, String nbd, LinkStatus link, List<VolumeStatus> volumes) {}
