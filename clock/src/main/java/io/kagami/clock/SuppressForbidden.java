package io.kagami.clock;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks the code allowed to call the APIs that build-rules/forbidden-*.txt ban (raw clocks, sleeps,
 * parks). Only this package may use it; the architecture tests fail the build elsewhere.
 */
@Retention(RetentionPolicy.CLASS)
@Target({ElementType.TYPE, ElementType.METHOD, ElementType.CONSTRUCTOR, ElementType.FIELD})
public @interface SuppressForbidden {}
