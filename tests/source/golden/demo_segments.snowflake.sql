WITH __all AS (
  WITH __ev AS (
    SELECT
      profile_id AS __pid,
      LOWER(TRIM(event)) AS __name,
      CAST(ts AS TIMESTAMP) AS __ts,
      destination AS __q0,
      amount AS __q1,
      category AS __q2
    FROM events
    WHERE
      CAST(ts AS TIMESTAMP) <= CAST('2026-11-23 08:00:00' AS TIMESTAMP)
  ), __feat0 AS (
    SELECT
      __pid,
      MAX(IFF((
        __ts >= CAST('2026-11-22 08:00:00' AS TIMESTAMP)
      ), __ts, NULL)) AS __f0
    FROM __ev
    WHERE
      __name = 'added_to_cart'
      AND (
        (
          __ts >= CAST('2026-11-22 08:00:00' AS TIMESTAMP)
        )
      )
    GROUP BY
      __pid
  ), __feat1 AS (
    SELECT
      __pid,
      MAX(__ts) AS __f1,
      COUNT_IF((
        __ts >= CAST('2025-11-23 08:00:00' AS TIMESTAMP)
      )) AS __f2,
      CAST(ROUND(
        CAST(SUM(CAST(__q1 AS DECIMAL(38, 6))) / CAST(COUNT(__q1) AS DECIMAL(38, 0)) AS DECIMAL(38, 12)),
        6
      ) AS DOUBLE) AS __f3,
      COUNT_IF((
        __ts >= CAST('2026-08-25 08:00:00' AS TIMESTAMP)
      )) AS __f4,
      COUNT(*) AS __f5,
      COUNT_IF(
        (
          __ts >= CAST('2026-10-24 08:00:00' AS TIMESTAMP)
        )
        AND (
          COALESCE((
            LOWER(TRIM(__q2)) = LOWER(TRIM('electronics'))
          ), FALSE)
        )
      ) AS __f6
    FROM __ev
    WHERE
      __name = 'order_completed'
    GROUP BY
      __pid
  ), __per0 AS (
    SELECT
      __pid,
      BOOLOR_AGG(__g0 > 0 AND COALESCE((
        (
          __g0 >= CAST(3.0 AS DOUBLE)
        )
      ), FALSE)) AS __p0
    FROM (
      SELECT
        __pid,
        LOWER(TRIM(__q0)) AS __grp,
        COUNT_IF(
          (
            __name = 'flight_booked'
          )
          AND (
            __ts >= CAST('2025-11-23 08:00:00' AS TIMESTAMP)
          )
        ) AS __g0
      FROM __ev
      WHERE
        NOT LOWER(TRIM(__q0)) IS NULL
        AND (
          (
            __name = 'flight_booked'
          )
          AND (
            __ts >= CAST('2025-11-23 08:00:00' AS TIMESTAMP)
          )
        )
      GROUP BY
        __pid,
        LOWER(TRIM(__q0))
    ) AS __groups
    GROUP BY
      __pid
  ), __base AS (
    SELECT
      p.profile_id,
      p.email,
      p.email_consent,
      p.latitude,
      p.lifecycle_stage,
      p.longitude,
      p.region,
      p.signup_at,
      __feat0.__f0 AS __f0,
      __feat1.__f1 AS __f1,
      __feat1.__f2 AS __f2,
      __feat1.__f3 AS __f3,
      __feat1.__f4 AS __f4,
      __feat1.__f5 AS __f5,
      __feat1.__f6 AS __f6,
      __per0.__p0 AS __p0
    FROM profiles AS p
    LEFT JOIN __feat0
      ON __feat0.__pid = p.profile_id
    LEFT JOIN __feat1
      ON __feat1.__pid = p.profile_id
    LEFT JOIN __per0
      ON __per0.__pid = p.profile_id
  ), __mv AS (
    SELECT
      COALESCE(__f2, 0) AS __mv0,
      COALESCE(__f4, 0) AS __mv1
    FROM __base
  ), __thr0 AS (
    SELECT
      MIN(IFF(__cd <= CAST(0.1 AS DOUBLE), __v, NULL)) AS __t0
    FROM (
      SELECT
        __v,
        CAST(SUM(__n) OVER (ORDER BY __v DESC NULLS LAST) AS DOUBLE) / CAST(SUM(__n) OVER () AS DOUBLE) AS __cd
      FROM (
        SELECT
          __mv0 AS __v,
          COUNT(*) AS __n
        FROM __mv
        WHERE
          NOT __mv0 IS NULL
        GROUP BY
          __mv0
      ) AS __c
    ) AS __cds
  ), __thr1 AS (
    SELECT
      MIN(IFF(__cd <= CAST(0.1 AS DOUBLE), __v, NULL)) AS __t1
    FROM (
      SELECT
        __v,
        CAST(SUM(__n) OVER (ORDER BY __v DESC NULLS LAST) AS DOUBLE) / CAST(SUM(__n) OVER () AS DOUBLE) AS __cd
      FROM (
        SELECT
          __mv1 AS __v,
          COUNT(*) AS __n
        FROM __mv
        WHERE
          NOT __mv1 IS NULL
        GROUP BY
          __mv1
      ) AS __c
    ) AS __cds
  ), __ranked AS (
    SELECT
      __base.*,
      __thr0.__t0,
      __thr1.__t1
    FROM __base
    CROSS JOIN __thr0
    CROSS JOIN __thr1
  )
  SELECT
    profile_id AS profile_id,
    email AS email,
    CASE
      WHEN REGEXP_LIKE(email, '^ *[!-?A-~]+@[!-?A-~]+[.][!-,/-?A-~-]+ *$')
      AND (
        LENGTH(email) <= 254 OR LENGTH(TRIM(email)) <= 254
      )
      THEN LOWER(TRIM(email))
      WHEN REGEXP_LIKE(email, '^[ -~]*$')
      THEN ''
    END AS email_key,
    COALESCE((
      email_consent
    ), FALSE) AS consent,
    COALESCE((
      NOT __f0 IS NULL AND (
        __f1 IS NULL OR __f1 <= __f0
      )
    ), FALSE) AS __s0,
    (
      COALESCE((
        LOWER(TRIM(lifecycle_stage)) = LOWER(TRIM('at_risk'))
      ), FALSE)
    )
    OR (
      (
        COALESCE((
          (
            COALESCE(__f2, 0) >= CAST(2.0 AS DOUBLE)
          )
        ), FALSE)
      )
      AND (
        COALESCE(
          (
            (
              FLOOR(
                (
                  CAST(1795420800.0 AS DOUBLE) - EXTRACT(epoch_second FROM __f1)
                ) / CAST(86400.0 AS DOUBLE)
              ) >= CAST(60.0 AS DOUBLE)
            )
            AND (
              FLOOR(
                (
                  CAST(1795420800.0 AS DOUBLE) - EXTRACT(epoch_second FROM __f1)
                ) / CAST(86400.0 AS DOUBLE)
              ) <= CAST(180.0 AS DOUBLE)
            )
          ),
          FALSE
        )
      )
    ) AS __s1,
    COALESCE((
      __p0
    ), FALSE) AS __s2,
    (
      COALESCE((
        (
          __f3 >= CAST(150.0 AS DOUBLE)
        )
      ), FALSE)
    )
    AND (
      COALESCE((
        (
          COALESCE(__f4, 0) = CAST(0.0 AS DOUBLE)
        )
      ), FALSE)
    ) AS __s3,
    (
      (
        CASE
          WHEN latitude BETWEEN CAST(37.560920294505515 AS DOUBLE) AND CAST(38.01507970549448 AS DOUBLE)
          AND longitude BETWEEN CAST(-122.69861001921299 AS DOUBLE) AND CAST(-122.116389980787 AS DOUBLE)
          THEN COALESCE(
            (
              CAST(12742.0 AS DOUBLE) * ASIN(
                LEAST_IGNORE_NULLS(
                  CAST(1.0 AS DOUBLE),
                  SQRT(
                    POWER(SIN(RADIANS(latitude - CAST(37.788 AS DOUBLE)) / CAST(2.0 AS DOUBLE)), 2) + COS(RADIANS(CAST(37.788 AS DOUBLE))) * COS(RADIANS(latitude)) * POWER(SIN(RADIANS(longitude - CAST(-122.4075 AS DOUBLE)) / CAST(2.0 AS DOUBLE)), 2)
                  )
                )
              ) <= CAST(25.0 AS DOUBLE)
            ),
            FALSE
          )
          ELSE FALSE
        END
      )
      OR (
        CASE
          WHEN latitude BETWEEN CAST(40.53092029450552 AS DOUBLE) AND CAST(40.985079705494485 AS DOUBLE)
          AND longitude BETWEEN CAST(-74.28932389227609 AS DOUBLE) AND CAST(-73.68167610772392 AS DOUBLE)
          THEN COALESCE(
            (
              CAST(12742.0 AS DOUBLE) * ASIN(
                LEAST_IGNORE_NULLS(
                  CAST(1.0 AS DOUBLE),
                  SQRT(
                    POWER(SIN(RADIANS(latitude - CAST(40.758 AS DOUBLE)) / CAST(2.0 AS DOUBLE)), 2) + COS(RADIANS(CAST(40.758 AS DOUBLE))) * COS(RADIANS(latitude)) * POWER(SIN(RADIANS(longitude - CAST(-73.9855 AS DOUBLE)) / CAST(2.0 AS DOUBLE)), 2)
                  )
                )
              ) <= CAST(25.0 AS DOUBLE)
            ),
            FALSE
          )
          ELSE FALSE
        END
      )
      OR (
        CASE
          WHEN latitude BETWEEN CAST(41.66792029450552 AS DOUBLE) AND CAST(42.122079705494485 AS DOUBLE)
          AND longitude BETWEEN CAST(-87.93351576952323 AS DOUBLE) AND CAST(-87.31508423047678 AS DOUBLE)
          THEN COALESCE(
            (
              CAST(12742.0 AS DOUBLE) * ASIN(
                LEAST_IGNORE_NULLS(
                  CAST(1.0 AS DOUBLE),
                  SQRT(
                    POWER(SIN(RADIANS(latitude - CAST(41.895 AS DOUBLE)) / CAST(2.0 AS DOUBLE)), 2) + COS(RADIANS(CAST(41.895 AS DOUBLE))) * COS(RADIANS(latitude)) * POWER(SIN(RADIANS(longitude - CAST(-87.6243 AS DOUBLE)) / CAST(2.0 AS DOUBLE)), 2)
                  )
                )
              ) <= CAST(25.0 AS DOUBLE)
            ),
            FALSE
          )
          ELSE FALSE
        END
      )
    )
    AND (
      COALESCE((
        email_consent = TRUE
      ), FALSE)
    ) AS __s4,
    (
      COALESCE(
        (
          (
            signup_at >= CAST('2026-10-24 08:00:00' AS TIMESTAMP)
          )
          AND (
            signup_at <= CAST('2026-11-23 08:00:00' AS TIMESTAMP)
          )
        ),
        FALSE
      )
    )
    AND (
      COALESCE((
        (
          COALESCE(__f5, 0) = CAST(0.0 AS DOUBLE)
        )
      ), FALSE)
    ) AS __s5,
    COALESCE((
      COALESCE(__f2, 0) >= __t0
    ), FALSE) AS __s6,
    (
      COALESCE((
        LOWER(TRIM(region)) = LOWER(TRIM('CA'))
      ), FALSE)
    )
    AND (
      COALESCE((
        (
          COALESCE(__f6, 0) >= CAST(4.0 AS DOUBLE)
        )
      ), FALSE)
    )
    AND (
      COALESCE((
        COALESCE(__f4, 0) >= __t1
      ), FALSE)
    )
    AND (
      NOT (
        (
          COALESCE((
            LOWER(TRIM(lifecycle_stage)) = LOWER(TRIM('at_risk'))
          ), FALSE)
        )
        OR (
          (
            COALESCE((
              (
                COALESCE(__f2, 0) >= CAST(2.0 AS DOUBLE)
              )
            ), FALSE)
          )
          AND (
            COALESCE(
              (
                (
                  FLOOR(
                    (
                      CAST(1795420800.0 AS DOUBLE) - EXTRACT(epoch_second FROM __f1)
                    ) / CAST(86400.0 AS DOUBLE)
                  ) >= CAST(60.0 AS DOUBLE)
                )
                AND (
                  FLOOR(
                    (
                      CAST(1795420800.0 AS DOUBLE) - EXTRACT(epoch_second FROM __f1)
                    ) / CAST(86400.0 AS DOUBLE)
                  ) <= CAST(180.0 AS DOUBLE)
                )
              ),
              FALSE
            )
          )
        )
      )
    ) AS __s7,
    (
      COALESCE((
        LOWER(TRIM(region)) = LOWER(TRIM('NY'))
      ), FALSE)
    )
    AND (
      COALESCE((
        LOWER(TRIM(lifecycle_stage)) = LOWER(TRIM('vip'))
      ), FALSE)
    ) AS __s8
  FROM __ranked
)
SELECT
  profile_id,
  email,
  CASE WHEN email_key = email OR email_key = '' THEN NULL ELSE email_key END AS email_key,
  CASE
    WHEN email_key IS NULL
    THEN 3
    WHEN email_key = ''
    THEN 2
    WHEN email_key = email
    THEN 0
    ELSE 1
  END AS email_form,
  consent,
  CAST(CASE WHEN __s0 THEN 1 ELSE 0 END AS BIGINT) + CAST(CASE WHEN __s1 THEN 2 ELSE 0 END AS BIGINT) + CAST(CASE WHEN __s2 THEN 4 ELSE 0 END AS BIGINT) + CAST(CASE WHEN __s3 THEN 8 ELSE 0 END AS BIGINT) + CAST(CASE WHEN __s4 THEN 16 ELSE 0 END AS BIGINT) + CAST(CASE WHEN __s5 THEN 32 ELSE 0 END AS BIGINT) + CAST(CASE WHEN __s6 THEN 64 ELSE 0 END AS BIGINT) + CAST(CASE WHEN __s7 THEN 128 ELSE 0 END AS BIGINT) + CAST(CASE WHEN __s8 THEN 256 ELSE 0 END AS BIGINT) AS __m0
FROM __all
WHERE
  (
    __s0
  )
  OR (
    __s1
  )
  OR (
    __s2
  )
  OR (
    __s3
  )
  OR (
    __s4
  )
  OR (
    __s5
  )
  OR (
    __s6
  )
  OR (
    __s7
  )
  OR (
    __s8
  )
ORDER BY
  profile_id
