/// `sb_lease`: the slices of shared limits a replica admits from locally (`PostgresAdmission`, `LeaseBook`).
enum LeaseSchema {
    static let postgresMigrations: [(version: Int, statements: [String])] = [(12, [sbLease])]

    /// One lease in one statement, under the advisory locks of the request's scopes (the order of `sb_admit` and the
    /// completion batches). Per scope, only what the replica cannot take from its own slices is decided here, by
    /// `sb_admit`'s rules and with its refusals; when admitted, the request is charged and a spare part is added:
    ///
    /// - rate (`rate_ask` ≥ 0): 1 request and `req_tokens` tokens plus up to `rate_ask` spare requests (and as many
    ///   times `req_tokens` tokens) in this second's `rate_windows` row, usable until the second ends;
    /// - slots (`slot_ask` ≥ 0): 1 in-flight slot plus up to `slot_ask` spare, in the replica's `inflight.requests`;
    /// - USD (`usd_ask` ≥ 0): `reserve` plus up to `usd_ask` spare, in the replica's `inflight.reserved_usd`.
    ///
    /// A spare part is at most `share` of what remains after the request, and none when fewer than `spare_floor`
    /// requests' worth remain (then admission is per request, as `sb_admit`). First, what the replica gives back: the
    /// unused part of its expired rate slices (`back_*`, per scope and second) and spare USD (`usd_back`) it could
    /// not use. `*_ask` of -1: the replica took that part from its own slice (not checked here).
    /// Returns, per scope, what was granted (`g_*`, the request's own part included) and the window's counts after
    /// charging (`w_*`) for the `x-ratelimit-*` figures.
    static let sbLease = #"""
CREATE FUNCTION sb_lease(scopes TEXT[], rpms BIGINT[], tpms BIGINT[], concs BIGINT[], rate_ask BIGINT[], slot_ask BIGINT[],
                         usd_ask DOUBLE PRECISION[], usd_back DOUBLE PRECISION[],
                         back_scopes TEXT[], back_secs BIGINT[], back_reqs BIGINT[], back_toks BIGINT[],
                         b_scopes TEXT[], b_periods TEXT[], b_limits DOUBLE PRECISION[],
                         req_tokens BIGINT, reserve DOUBLE PRECISION, replica_id TEXT, stale DOUBLE PRECISION,
                         share DOUBLE PRECISION, spare_floor BIGINT, margin DOUBLE PRECISION)
RETURNS TABLE (admitted BOOLEAN, kind TEXT, r_scope TEXT, r_limit TEXT, r_value DOUBLE PRECISION, retry_ms DOUBLE PRECISION,
               spent DOUBLE PRECISION, now_s DOUBLE PRECISION, lim_req BIGINT, rem_req BIGINT, reset_req_ms DOUBLE PRECISION,
               lim_tok BIGINT, rem_tok BIGINT, reset_tok_ms DOUBLE PRECISION,
               g_req BIGINT[], g_tok BIGINT[], g_slot BIGINT[], g_usd DOUBLE PRECISION[], w_req BIGINT[], w_tok BIGINT[], w_oldest BIGINT[]) AS $$
DECLARE
    t DOUBLE PRECISION;
    sec BIGINT;
    today BIGINT;
    n INT;
    i INT;
    j INT;
    used_req BIGINT;
    used_tok BIGINT;
    oldest BIGINT;
    flight BIGINT;
    held DOUBLE PRECISION;
    dropped_req BIGINT;
    dropped_tok BIGINT;
    reset DOUBLE PRECISION;
    w RECORD;
    p_start BIGINT;
    p_end BIGINT;
    total DOUBLE PRECISION;
    spare BIGINT;
    unit BIGINT;
    room DOUBLE PRECISION[];
BEGIN
    t := sb_lock_scopes(scopes);
    sec := floor(t)::BIGINT;
    today := floor(t / 86400)::BIGINT;
    now_s := t;
    admitted := true;
    n := coalesce(array_length(scopes, 1), 0);
    g_req := array_fill(0::BIGINT, ARRAY[n]); g_tok := g_req; g_slot := g_req; w_req := g_req; w_tok := g_req;
    w_oldest := array_fill(-1::BIGINT, ARRAY[n]);
    g_usd := array_fill(0::DOUBLE PRECISION, ARRAY[n]);
    room := array_fill(NULL::DOUBLE PRECISION, ARRAY[n]);
    -- The unused part of this replica's expired slices first: its own stale units never refuse it.
    FOR i IN 1..coalesce(array_length(back_scopes, 1), 0) LOOP
        UPDATE rate_windows x SET requests = greatest(0, x.requests - back_reqs[i]), tokens = greatest(0, x.tokens - back_toks[i])
            WHERE x.scope = back_scopes[i] AND x.second = back_secs[i];
    END LOOP;
    FOR i IN 1..n LOOP
        used_req := 0; used_tok := 0; oldest := NULL; reset := 0;
        IF rpms[i] > 0 OR tpms[i] > 0 THEN
            SELECT coalesce(sum(x.requests), 0), coalesce(sum(x.tokens), 0), min(x.second) INTO used_req, used_tok, oldest
                FROM rate_windows x WHERE x.scope = scopes[i] AND x.second > sec - 60 AND x.second <= sec;
            reset := CASE WHEN oldest IS NULL THEN 0 ELSE greatest(0, (oldest + 60) * 1000.0 - t * 1000) END;
        END IF;
        IF concs[i] > 0 AND slot_ask[i] >= 0 THEN
            SELECT coalesce(sum(f.requests), 0) INTO flight FROM inflight f WHERE f.scope = scopes[i] AND f.heartbeat > t - stale;
            IF flight >= concs[i] THEN
                admitted := false; kind := 'rate'; r_scope := scopes[i]; r_limit := 'max_concurrent'; r_value := concs[i];
                retry_ms := NULL;
            END IF;
        END IF;
        IF admitted AND rate_ask[i] >= 0
           AND ((rpms[i] > 0 AND used_req >= rpms[i]) OR (tpms[i] > 0 AND used_tok > 0 AND used_tok + req_tokens > tpms[i])) THEN
            admitted := false; kind := 'rate'; r_scope := scopes[i];
            IF rpms[i] > 0 AND used_req >= rpms[i] THEN r_limit := 'rpm'; r_value := rpms[i]; ELSE r_limit := 'tpm'; r_value := tpms[i]; END IF;
            retry_ms := 60000; dropped_req := 0; dropped_tok := 0;
            FOR w IN SELECT x.second, x.requests, x.tokens FROM rate_windows x
                     WHERE x.scope = scopes[i] AND x.second > sec - 60 AND x.second <= sec ORDER BY x.second LOOP
                dropped_req := dropped_req + w.requests;
                dropped_tok := dropped_tok + w.tokens;
                IF (rpms[i] = 0 OR used_req - dropped_req < rpms[i])
                   AND (tpms[i] = 0 OR used_tok - dropped_tok = 0 OR used_tok - dropped_tok + req_tokens <= tpms[i]) THEN
                    retry_ms := greatest(1, (w.second + 60) * 1000.0 - t * 1000);
                    EXIT;
                END IF;
            END LOOP;
        END IF;
        IF NOT admitted THEN
            lim_req := NULLIF(rpms[i], 0); rem_req := CASE WHEN rpms[i] > 0 THEN greatest(0, rpms[i] - used_req) END;
            reset_req_ms := CASE WHEN rpms[i] > 0 THEN reset END;
            lim_tok := NULLIF(tpms[i], 0); rem_tok := CASE WHEN tpms[i] > 0 THEN greatest(0, tpms[i] - used_tok) END;
            reset_tok_ms := CASE WHEN tpms[i] > 0 THEN reset END;
            g_req := NULL; g_tok := NULL; g_slot := NULL; g_usd := NULL; w_req := NULL; w_tok := NULL; w_oldest := NULL;
            RETURN NEXT;
            RETURN;
        END IF;
        IF slot_ask[i] >= 0 THEN
            spare := CASE WHEN concs[i] = 0 THEN slot_ask[i]
                          WHEN concs[i] - flight - 1 >= spare_floor THEN least(slot_ask[i], floor((concs[i] - flight - 1) * share)::BIGINT)
                          ELSE 0 END;
            g_slot[i] := 1 + spare;
        END IF;
        IF rate_ask[i] >= 0 THEN
            -- Spare units only while enough of the second is left to use them.
            spare := CASE WHEN t - sec > 1 - margin THEN 0
                          WHEN rpms[i] = 0 THEN rate_ask[i]
                          WHEN rpms[i] - used_req - 1 >= spare_floor THEN least(rate_ask[i], floor((rpms[i] - used_req - 1) * share)::BIGINT)
                          ELSE 0 END;
            g_req[i] := 1 + spare;
            unit := greatest(req_tokens, 1);
            g_tok[i] := req_tokens + CASE WHEN t - sec > 1 - margin THEN 0
                          WHEN tpms[i] = 0 THEN spare * req_tokens
                          WHEN tpms[i] - used_tok - req_tokens >= spare_floor * unit
                              THEN least(rate_ask[i] * unit, floor((tpms[i] - used_tok - req_tokens) * share)::BIGINT)
                          ELSE 0 END;
            used_req := used_req + g_req[i];
            used_tok := used_tok + g_tok[i];
            oldest := coalesce(oldest, sec);
        END IF;
        w_req[i] := used_req; w_tok[i] := used_tok; w_oldest[i] := coalesce(oldest, -1);
    END LOOP;
    -- Budgets: the period's spend plus live reservations (this replica's own spare given back not counted).
    FOR i IN 1..coalesce(array_length(b_scopes, 1), 0) LOOP
        j := array_position(scopes, b_scopes[i]);
        CONTINUE WHEN j IS NULL OR usd_ask[j] < 0;
        p_start := CASE b_periods[i]
            WHEN 'day' THEN today
            WHEN 'week' THEN today - ((today % 7 + 7 + 3) % 7)
            WHEN 'month' THEN floor(extract(epoch FROM date_trunc('month', to_timestamp(t) AT TIME ZONE 'UTC')) / 86400)::BIGINT
            ELSE NULL END;
        SELECT (SELECT coalesce(sum(d.usd), 0) FROM spend_daily d WHERE d.scope = b_scopes[i] AND (p_start IS NULL OR d.day >= p_start)),
               (SELECT coalesce(sum(f.reserved_usd), 0) FROM inflight f WHERE f.scope = b_scopes[i] AND f.heartbeat > t - stale)
            INTO total, held;
        held := greatest(held - usd_back[j], 0);
        IF total + held >= b_limits[i] THEN
            p_end := CASE b_periods[i]
                WHEN 'day' THEN today + 1
                WHEN 'week' THEN p_start + 7
                WHEN 'month' THEN floor(extract(epoch FROM date_trunc('month', to_timestamp(t) AT TIME ZONE 'UTC') + interval '1 month') / 86400)::BIGINT
                ELSE NULL END;
            admitted := false; kind := 'budget'; r_scope := b_scopes[i]; r_limit := b_periods[i]; r_value := b_limits[i];
            retry_ms := CASE WHEN p_end IS NULL THEN NULL ELSE p_end * 86400000.0 - t * 1000 END;
            spent := total;
            g_req := NULL; g_tok := NULL; g_slot := NULL; g_usd := NULL; w_req := NULL; w_tok := NULL; w_oldest := NULL;
            RETURN NEXT;
            RETURN;
        END IF;
        room[j] := least(coalesce(room[j], b_limits[i] - total - held), b_limits[i] - total - held);
    END LOOP;
    FOR j IN 1..n LOOP
        CONTINUE WHEN usd_ask[j] < 0 OR room[j] IS NULL;
        g_usd[j] := reserve + CASE WHEN reserve > 0 AND room[j] - reserve >= spare_floor * reserve
                                   THEN least(usd_ask[j], floor((room[j] - reserve) * share / reserve) * reserve) ELSE 0 END;
    END LOOP;
    -- Admitted: charge, rows in scope order (as sb_admit and the completion batches).
    INSERT INTO rate_windows (scope, second, requests, tokens)
        SELECT u.s, sec, u.r, u.k FROM unnest(scopes, g_req, g_tok) AS u(s, r, k) WHERE u.r > 0 ORDER BY u.s
        ON CONFLICT (scope, second) DO UPDATE SET requests = rate_windows.requests + excluded.requests,
            tokens = rate_windows.tokens + excluded.tokens;
    INSERT INTO inflight (scope, replica, requests, reserved_usd, heartbeat)
        SELECT u.s, replica_id, u.sl, greatest(0, u.d - greatest(u.b, 0)), t FROM unnest(scopes, g_slot, g_usd, usd_back) AS u(s, sl, d, b) ORDER BY u.s
        ON CONFLICT (scope, replica) DO UPDATE SET requests = inflight.requests + excluded.requests,
            reserved_usd = inflight.reserved_usd + excluded.reserved_usd, heartbeat = excluded.heartbeat;
    RETURN NEXT;
END $$ LANGUAGE plpgsql
"""#
}
