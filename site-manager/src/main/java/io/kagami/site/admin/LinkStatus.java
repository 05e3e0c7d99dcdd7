package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;

/** The WAN link as the site sees it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LinkStatus(
    boolean connected, String peerSiteId, String address, long rawBytes, long wireBytes, String lastError) {}
