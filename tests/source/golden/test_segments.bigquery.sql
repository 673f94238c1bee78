WITH `__all` AS (
  WITH `__ev` AS (
    SELECT
      `profile_id` AS `__pid`,
      LOWER(TRIM(`event`)) AS `__name`,
      CAST(`ts` AS TIMESTAMP) AS `__ts`,
      `amount` AS `__q0`,
      `category` AS `__q1`,
      `destination` AS `__q2`,
      `product_id` AS `__q3`
    FROM `events`
    WHERE
      CAST(`ts` AS TIMESTAMP) <= CAST('2026-11-23 00:00:00' AS TIMESTAMP)
  ), `__feat0` AS (
    SELECT
      `__pid`,
      MAX(IF((
        `__ts` >= CAST('2026-11-22 00:00:00' AS TIMESTAMP)
      ), `__ts`, NULL)) AS `__f0`,
      MAX(IF((
        `__ts` >= CAST('2026-11-16 00:00:00' AS TIMESTAMP)
      ), `__ts`, NULL)) AS `__f2`,
      CAST(SUM(
        IF(
          (
            `__ts` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
          ),
          ROUND(CAST(`__q0` AS BIGNUMERIC), 6),
          NULL
        )
      ) AS FLOAT64) AS `__f3`,
      MIN(
        IF(
          (
            `__ts` >= CAST('2026-08-25 00:00:00' AS TIMESTAMP)
          ),
          CAST(`__q0` AS FLOAT64),
          NULL
        )
      ) AS `__f6`,
      COUNTIF(
        (
          `__ts` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
        )
        AND (
          COALESCE(
            (
              LEFT(LOWER(TRIM(`__q3`)), LENGTH(LOWER(TRIM('sku-0000')))) = LOWER(TRIM('sku-0000'))
            ),
            FALSE
          )
        )
      ) AS `__f21`,
      MAX(
        IF(
          (
            COALESCE((
              LOWER(TRIM(`__q1`)) = LOWER(TRIM('electronics'))
            ), FALSE)
          ),
          `__ts`,
          NULL
        )
      ) AS `__f24`
    FROM `__ev`
    WHERE
      `__name` = 'added_to_cart'
      AND (
        (
          (
            `__ts` >= CAST('2026-11-22 00:00:00' AS TIMESTAMP)
          )
        )
        OR (
          (
            `__ts` >= CAST('2026-11-16 00:00:00' AS TIMESTAMP)
          )
        )
        OR (
          (
            `__ts` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
          )
        )
        OR (
          (
            `__ts` >= CAST('2026-08-25 00:00:00' AS TIMESTAMP)
          )
        )
        OR (
          (
            `__ts` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
          )
          AND (
            COALESCE(
              (
                LEFT(LOWER(TRIM(`__q3`)), LENGTH(LOWER(TRIM('sku-0000')))) = LOWER(TRIM('sku-0000'))
              ),
              FALSE
            )
          )
        )
        OR (
          (
            COALESCE((
              LOWER(TRIM(`__q1`)) = LOWER(TRIM('electronics'))
            ), FALSE)
          )
        )
      )
    GROUP BY
      `__pid`
  ), `__feat1` AS (
    SELECT
      `__pid`,
      MAX(`__ts`) AS `__f1`,
      MAX(
        IF(
          (
            `__ts` >= CAST('2025-11-23 00:00:00' AS TIMESTAMP)
          ),
          CAST(`__q0` AS FLOAT64),
          NULL
        )
      ) AS `__f4`,
      MAX(CAST(`__q0` AS FLOAT64)) AS `__f5`,
      COUNTIF((
        `__ts` >= CAST('2025-11-23 00:00:00' AS TIMESTAMP)
      )) AS `__f8`,
      COUNTIF((
        `__ts` >= CAST('2026-09-24 00:00:00' AS TIMESTAMP)
      )) AS `__f10`,
      CAST(ROUND(
        ROUND(
          CAST(SUM(
            IF(
              (
                COALESCE(
                  (
                    LOWER(TRIM(`__q1`)) IN (LOWER(TRIM('fashion')), LOWER(TRIM('beauty')))
                  ),
                  FALSE
                )
              ),
              ROUND(CAST(`__q0` AS BIGNUMERIC), 6),
              NULL
            )
          ) / ROUND(
            CAST(COUNT(
              IF(
                (
                  COALESCE(
                    (
                      LOWER(TRIM(`__q1`)) IN (LOWER(TRIM('fashion')), LOWER(TRIM('beauty')))
                    ),
                    FALSE
                  )
                ),
                `__q0`,
                NULL
              )
            ) AS BIGNUMERIC),
            0
          ) AS BIGNUMERIC),
          12
        ),
        6
      ) AS FLOAT64) AS `__f12`,
      CAST(ROUND(
        ROUND(
          CAST(SUM(ROUND(CAST(`__q0` AS BIGNUMERIC), 6)) / ROUND(CAST(COUNT(`__q0`) AS BIGNUMERIC), 0) AS BIGNUMERIC),
          12
        ),
        6
      ) AS FLOAT64) AS `__f14`,
      COUNTIF((
        `__ts` >= CAST('2026-08-25 00:00:00' AS TIMESTAMP)
      )) AS `__f15`,
      COUNT(*) AS `__f17`,
      COUNTIF((
        `__ts` >= CAST('2026-05-27 00:00:00' AS TIMESTAMP)
      )) AS `__f18`,
      CAST(SUM(
        IF(
          (
            `__ts` >= CAST('2025-11-23 00:00:00' AS TIMESTAMP)
          ),
          ROUND(CAST(`__q0` AS BIGNUMERIC), 6),
          NULL
        )
      ) AS FLOAT64) AS `__f19`,
      COUNTIF(
        (
          `__ts` >= CAST('2026-05-27 00:00:00' AS TIMESTAMP)
        )
        AND (
          COALESCE((
            LOWER(TRIM(`__q1`)) = LOWER(TRIM('sports'))
          ), FALSE)
        )
      ) AS `__f20`,
      COUNTIF(
        (
          `__ts` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
        )
        AND (
          COALESCE((
            LOWER(TRIM(`__q1`)) = LOWER(TRIM('electronics'))
          ), FALSE)
        )
      ) AS `__f25`
    FROM `__ev`
    WHERE
      `__name` = 'order_completed'
    GROUP BY
      `__pid`
  ), `__feat2` AS (
    SELECT
      `__pid`,
      COUNTIF((
        `__ts` >= CAST('2026-11-16 00:00:00' AS TIMESTAMP)
      )) AS `__f7`
    FROM `__ev`
    WHERE
      `__name` = 'page_view'
      AND (
        (
          `__ts` >= CAST('2026-11-16 00:00:00' AS TIMESTAMP)
        )
      )
    GROUP BY
      `__pid`
  ), `__feat3` AS (
    SELECT
      `__pid`,
      COUNTIF((
        `__ts` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
      )) AS `__f9`
    FROM `__ev`
    WHERE
      `__name` = 'email_open'
      AND (
        (
          `__ts` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
        )
      )
    GROUP BY
      `__pid`
  ), `__feat4` AS (
    SELECT
      `__pid`,
      COUNTIF(
        (
          `__ts` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
        )
        AND (
          COALESCE((
            LOWER(TRIM(`__q1`)) = LOWER(TRIM('electronics'))
          ), FALSE)
        )
      ) AS `__f11`,
      MAX(
        IF(
          (
            `__ts` >= CAST('2026-11-20 00:00:00' AS TIMESTAMP)
          )
          AND (
            COALESCE((
              LOWER(TRIM(`__q1`)) = LOWER(TRIM('electronics'))
            ), FALSE)
          ),
          `__ts`,
          NULL
        )
      ) AS `__f23`
    FROM `__ev`
    WHERE
      `__name` = 'product_view'
      AND (
        (
          (
            `__ts` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
          )
          AND (
            COALESCE((
              LOWER(TRIM(`__q1`)) = LOWER(TRIM('electronics'))
            ), FALSE)
          )
        )
        OR (
          (
            `__ts` >= CAST('2026-11-20 00:00:00' AS TIMESTAMP)
          )
          AND (
            COALESCE((
              LOWER(TRIM(`__q1`)) = LOWER(TRIM('electronics'))
            ), FALSE)
          )
        )
      )
    GROUP BY
      `__pid`
  ), `__feat5` AS (
    SELECT
      `__pid`,
      COUNTIF((
        `__ts` >= CAST('2025-11-23 00:00:00' AS TIMESTAMP)
      )) AS `__f13`,
      COUNTIF((
        `__ts` >= CAST('2026-08-25 00:00:00' AS TIMESTAMP)
      )) AS `__f22`
    FROM `__ev`
    WHERE
      `__name` = 'flight_booked'
      AND (
        (
          (
            `__ts` >= CAST('2025-11-23 00:00:00' AS TIMESTAMP)
          )
        )
        OR (
          (
            `__ts` >= CAST('2026-08-25 00:00:00' AS TIMESTAMP)
          )
        )
      )
    GROUP BY
      `__pid`
  ), `__feat6` AS (
    SELECT
      `__pid`,
      COUNT(DISTINCT LOWER(TRIM(`__q1`))) AS `__f16`
    FROM `__ev`
    WHERE
      (
        `__name` = 'order_completed'
      )
      AND (
        `__ts` >= CAST('2025-11-23 00:00:00' AS TIMESTAMP)
      )
    GROUP BY
      `__pid`
  ), `__per0` AS (
    SELECT
      `__pid`,
      LOGICAL_OR(`__g0` > 0 AND COALESCE((
        (
          `__g0` >= CAST(3.0 AS FLOAT64)
        )
      ), FALSE)) AS `__p0`
    FROM (
      SELECT
        `__pid`,
        LOWER(TRIM(`__q1`)) AS `__grp`,
        COUNTIF(
          (
            `__name` = 'order_completed'
          )
          AND (
            `__ts` >= CAST('2026-08-25 00:00:00' AS TIMESTAMP)
          )
        ) AS `__g0`
      FROM `__ev`
      WHERE
        NOT LOWER(TRIM(`__q1`)) IS NULL
        AND (
          (
            `__name` = 'order_completed'
          )
          AND (
            `__ts` >= CAST('2026-08-25 00:00:00' AS TIMESTAMP)
          )
        )
      GROUP BY
        `__pid`,
        LOWER(TRIM(`__q1`))
    ) AS __groups
    GROUP BY
      `__pid`
  ), `__per1` AS (
    SELECT
      `__pid`,
      LOGICAL_OR(`__g0` > 0 AND COALESCE((
        (
          `__g0` >= CAST(3.0 AS FLOAT64)
        )
      ), FALSE)) AS `__p1`
    FROM (
      SELECT
        `__pid`,
        LOWER(TRIM(`__q2`)) AS `__grp`,
        COUNTIF(
          (
            `__name` = 'flight_booked'
          )
          AND (
            `__ts` >= CAST('2025-11-23 00:00:00' AS TIMESTAMP)
          )
        ) AS `__g0`
      FROM `__ev`
      WHERE
        NOT LOWER(TRIM(`__q2`)) IS NULL
        AND (
          (
            `__name` = 'flight_booked'
          )
          AND (
            `__ts` >= CAST('2025-11-23 00:00:00' AS TIMESTAMP)
          )
        )
      GROUP BY
        `__pid`,
        LOWER(TRIM(`__q2`))
    ) AS __groups
    GROUP BY
      `__pid`
  ), `__per2` AS (
    SELECT
      `__pid`,
      LOGICAL_OR(`__g0` > 0 AND COALESCE((
        (
          `__g0` >= CAST(3.0 AS FLOAT64)
        )
      ), FALSE)) AS `__p2`
    FROM (
      SELECT
        `__pid`,
        LOWER(TRIM(`__q3`)) AS `__grp`,
        COUNTIF(
          (
            `__name` = 'product_view'
          )
          AND (
            `__ts` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
          )
        ) AS `__g0`
      FROM `__ev`
      WHERE
        NOT LOWER(TRIM(`__q3`)) IS NULL
        AND (
          (
            `__name` = 'product_view'
          )
          AND (
            `__ts` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
          )
        )
      GROUP BY
        `__pid`,
        LOWER(TRIM(`__q3`))
    ) AS __groups
    GROUP BY
      `__pid`
  ), `__nfb__n0` AS (
    SELECT
      `e`.`__pid`,
      COUNT(*) AS `__c`
    FROM `__ev` AS e
    JOIN `__feat0` AS f
      ON `f`.`__pid` = `e`.`__pid`
    WHERE
      (
        (
          (
            `e`.`__name` = 'order_completed'
          ) AND `e`.`__ts` > `f`.`__f2`
        )
        AND `e`.`__ts` <= `f`.`__f2` + INTERVAL 86400 SECOND
      )
      AND `e`.`__ts` > CAST('2026-11-16 00:00:00' AS TIMESTAMP)
    GROUP BY
      `e`.`__pid`
  ), `__base` AS (
    SELECT
      `p`.`profile_id`,
      `p`.`email`,
      `p`.`email_consent`,
      `p`.`age`,
      `p`.`city`,
      `p`.`gender`,
      `p`.`home_airport`,
      `p`.`interests`,
      `p`.`latitude`,
      `p`.`lifecycle_stage`,
      `p`.`longitude`,
      `p`.`predicted_clv`,
      `p`.`region`,
      `p`.`signup_at`,
      `__feat0`.`__f0` AS `__f0`,
      `__feat0`.`__f2` AS `__f2`,
      `__feat0`.`__f3` AS `__f3`,
      `__feat0`.`__f6` AS `__f6`,
      `__feat0`.`__f21` AS `__f21`,
      `__feat0`.`__f24` AS `__f24`,
      `__feat1`.`__f1` AS `__f1`,
      `__feat1`.`__f4` AS `__f4`,
      `__feat1`.`__f5` AS `__f5`,
      `__feat1`.`__f8` AS `__f8`,
      `__feat1`.`__f10` AS `__f10`,
      `__feat1`.`__f12` AS `__f12`,
      `__feat1`.`__f14` AS `__f14`,
      `__feat1`.`__f15` AS `__f15`,
      `__feat1`.`__f17` AS `__f17`,
      `__feat1`.`__f18` AS `__f18`,
      `__feat1`.`__f19` AS `__f19`,
      `__feat1`.`__f20` AS `__f20`,
      `__feat1`.`__f25` AS `__f25`,
      `__feat2`.`__f7` AS `__f7`,
      `__feat3`.`__f9` AS `__f9`,
      `__feat4`.`__f11` AS `__f11`,
      `__feat4`.`__f23` AS `__f23`,
      `__feat5`.`__f13` AS `__f13`,
      `__feat5`.`__f22` AS `__f22`,
      `__feat6`.`__f16` AS `__f16`,
      `__per0`.`__p0` AS `__p0`,
      `__per1`.`__p1` AS `__p1`,
      `__per2`.`__p2` AS `__p2`,
      `__nfb__n0`.`__c` AS `__n0`
    FROM `profiles` AS p
    LEFT JOIN `__feat0`
      ON `__feat0`.`__pid` = `p`.`profile_id`
    LEFT JOIN `__feat1`
      ON `__feat1`.`__pid` = `p`.`profile_id`
    LEFT JOIN `__feat2`
      ON `__feat2`.`__pid` = `p`.`profile_id`
    LEFT JOIN `__feat3`
      ON `__feat3`.`__pid` = `p`.`profile_id`
    LEFT JOIN `__feat4`
      ON `__feat4`.`__pid` = `p`.`profile_id`
    LEFT JOIN `__feat5`
      ON `__feat5`.`__pid` = `p`.`profile_id`
    LEFT JOIN `__feat6`
      ON `__feat6`.`__pid` = `p`.`profile_id`
    LEFT JOIN `__per0`
      ON `__per0`.`__pid` = `p`.`profile_id`
    LEFT JOIN `__per1`
      ON `__per1`.`__pid` = `p`.`profile_id`
    LEFT JOIN `__per2`
      ON `__per2`.`__pid` = `p`.`profile_id`
    LEFT JOIN `__nfb__n0`
      ON `__nfb__n0`.`__pid` = `p`.`profile_id`
  ), `__mv` AS (
    SELECT
      CAST(`predicted_clv` AS FLOAT64) AS `__mv0`,
      `__f14` AS `__mv1`,
      COALESCE(`__f8`, 0) AS `__mv2`,
      `__f19` AS `__mv3`,
      COALESCE(`__f15`, 0) AS `__mv4`
    FROM `__base`
  ), `__thr0` AS (
    SELECT
      MAX(IF(`__cd` <= CAST(0.2 AS FLOAT64), `__v`, NULL)) AS `__t0`
    FROM (
      SELECT
        `__v`,
        CAST(SUM(`__n`) OVER (ORDER BY `__v` ASC) AS FLOAT64) / CAST(SUM(`__n`) OVER () AS FLOAT64) AS `__cd`
      FROM (
        SELECT
          `__mv0` AS `__v`,
          COUNT(*) AS `__n`
        FROM `__mv`
        WHERE
          NOT `__mv0` IS NULL
        GROUP BY
          `__mv0`
      ) AS __c
    ) AS __cds
  ), `__thr1` AS (
    SELECT
      MIN(IF(`__cd` <= CAST(0.01 AS FLOAT64), `__v`, NULL)) AS `__t1`
    FROM (
      SELECT
        `__v`,
        CAST(SUM(`__n`) OVER (ORDER BY `__v` DESC) AS FLOAT64) / CAST(SUM(`__n`) OVER () AS FLOAT64) AS `__cd`
      FROM (
        SELECT
          `__mv1` AS `__v`,
          COUNT(*) AS `__n`
        FROM `__mv`
        WHERE
          NOT `__mv1` IS NULL
        GROUP BY
          `__mv1`
      ) AS __c
    ) AS __cds
  ), `__thr2` AS (
    SELECT
      MIN(IF(`__cd` <= CAST(0.1 AS FLOAT64), `__v`, NULL)) AS `__t2`
    FROM (
      SELECT
        `__v`,
        CAST(SUM(`__n`) OVER (ORDER BY `__v` DESC) AS FLOAT64) / CAST(SUM(`__n`) OVER () AS FLOAT64) AS `__cd`
      FROM (
        SELECT
          `__mv2` AS `__v`,
          COUNT(*) AS `__n`
        FROM `__mv`
        WHERE
          NOT `__mv2` IS NULL
        GROUP BY
          `__mv2`
      ) AS __c
    ) AS __cds
  ), `__thr3` AS (
    SELECT
      MIN(IF(`__cd` <= CAST(0.05 AS FLOAT64), `__v`, NULL)) AS `__t3`
    FROM (
      SELECT
        `__v`,
        CAST(SUM(`__n`) OVER (ORDER BY `__v` DESC) AS FLOAT64) / CAST(SUM(`__n`) OVER () AS FLOAT64) AS `__cd`
      FROM (
        SELECT
          `__mv3` AS `__v`,
          COUNT(*) AS `__n`
        FROM `__mv`
        WHERE
          NOT `__mv3` IS NULL
        GROUP BY
          `__mv3`
      ) AS __c
    ) AS __cds
  ), `__thr4` AS (
    SELECT
      MIN(IF(`__cd` <= CAST(0.1 AS FLOAT64), `__v`, NULL)) AS `__t4`
    FROM (
      SELECT
        `__v`,
        CAST(SUM(`__n`) OVER (ORDER BY `__v` DESC) AS FLOAT64) / CAST(SUM(`__n`) OVER () AS FLOAT64) AS `__cd`
      FROM (
        SELECT
          `__mv4` AS `__v`,
          COUNT(*) AS `__n`
        FROM `__mv`
        WHERE
          NOT `__mv4` IS NULL
        GROUP BY
          `__mv4`
      ) AS __c
    ) AS __cds
  ), `__ranked` AS (
    SELECT
      `__base`.*,
      `__thr0`.`__t0`,
      `__thr1`.`__t1`,
      `__thr2`.`__t2`,
      `__thr3`.`__t3`,
      `__thr4`.`__t4`
    FROM `__base`
    CROSS JOIN `__thr0`
    CROSS JOIN `__thr1`
    CROSS JOIN `__thr2`
    CROSS JOIN `__thr3`
    CROSS JOIN `__thr4`
  )
  SELECT
    `profile_id` AS `profile_id`,
    `email` AS `email`,
    CASE
      WHEN REGEXP_CONTAINS(`email`, '^ *[!-?A-~]+@[!-?A-~]+[.][!-,/-?A-~-]+ *$')
      AND (
        LENGTH(`email`) <= 254 OR LENGTH(TRIM(`email`)) <= 254
      )
      THEN LOWER(TRIM(`email`))
      WHEN REGEXP_CONTAINS(`email`, '^[ -~]*$')
      THEN ''
    END AS `email_key`,
    COALESCE((
      `email_consent`
    ), FALSE) AS `consent`,
    COALESCE((
      NOT `__f0` IS NULL AND (
        `__f1` IS NULL OR `__f1` <= `__f0`
      )
    ), FALSE) AS `__s0`,
    COALESCE((
      NOT `__f2` IS NULL AND `__n0` IS NULL
    ), FALSE) AS `__s1`,
    COALESCE((
      (
        `__f3` >= CAST(500.0 AS FLOAT64)
      )
    ), FALSE) AS `__s2`,
    COALESCE((
      (
        `__f4` >= CAST(800.0 AS FLOAT64)
      )
    ), FALSE) AS `__s3`,
    (
      COALESCE((
        (
          `__f5` >= CAST(500.0 AS FLOAT64)
        )
      ), FALSE)
    )
    AND (
      COALESCE((
        (
          `__f6` <= CAST(15.0 AS FLOAT64)
        )
      ), FALSE)
    ) AS `__s4`,
    COALESCE((
      CAST(`predicted_clv` AS FLOAT64) <= `__t0`
    ), FALSE) AS `__s5`,
    COALESCE((
      (
        COALESCE(`__f7`, 0) >= CAST(5.0 AS FLOAT64)
      )
    ), FALSE) AS `__s6`,
    COALESCE((
      LOWER(TRIM(`region`)) = LOWER(TRIM('CA'))
    ), FALSE) AS `__s7`,
    COALESCE((
      `__p0`
    ), FALSE) AS `__s8`,
    COALESCE((
      (
        `__f6` <= CAST(10.0 AS FLOAT64)
      )
    ), FALSE) AS `__s9`,
    (
      COALESCE((
        LOWER(TRIM(`lifecycle_stage`)) = LOWER(TRIM('at_risk'))
      ), FALSE)
    )
    OR (
      (
        COALESCE((
          (
            COALESCE(`__f8`, 0) >= CAST(2.0 AS FLOAT64)
          )
        ), FALSE)
      )
      AND (
        COALESCE(
          (
            (
              FLOOR(
                (
                  CAST(1795392000.0 AS FLOAT64) - UNIX_SECONDS(CAST(`__f1` AS TIMESTAMP))
                ) / CAST(86400.0 AS FLOAT64)
              ) >= CAST(60.0 AS FLOAT64)
            )
          ),
          FALSE
        )
      )
    ) AS `__s10`,
    COALESCE((
      (
        CAST(`predicted_clv` AS FLOAT64) >= CAST(1000.0 AS FLOAT64)
      )
    ), FALSE) AS `__s11`,
    (
      (
        COALESCE((
          LOWER(TRIM(`region`)) = LOWER(TRIM('TX'))
        ), FALSE)
      )
      AND (
        NOT (
          (
            COALESCE((
              (
                CAST(`predicted_clv` AS FLOAT64) < CAST(50.0 AS FLOAT64)
              )
            ), FALSE)
          )
          OR (
            COALESCE((
              `age` < 25
            ), FALSE)
          )
        )
      )
    )
    OR (
      (
        COALESCE((
          (
            COALESCE(`__f9`, 0) >= CAST(3.0 AS FLOAT64)
          )
        ), FALSE)
      )
      AND (
        NOT (
          COALESCE((
            (
              COALESCE(`__f10`, 0) >= CAST(1.0 AS FLOAT64)
            )
          ), FALSE)
        )
      )
    ) AS `__s12`,
    COALESCE((
      (
        COALESCE(`__f11`, 0) >= CAST(3.0 AS FLOAT64)
      )
    ), FALSE) AS `__s13`,
    COALESCE((
      `__p1`
    ), FALSE) AS `__s14`,
    COALESCE((
      (
        `__f12` >= CAST(60.0 AS FLOAT64)
      )
    ), FALSE) AS `__s15`,
    COALESCE((
      (
        COALESCE(`__f13`, 0) >= CAST(2.0 AS FLOAT64)
      )
    ), FALSE) AS `__s16`,
    COALESCE(
      (
        RIGHT(LOWER(TRIM(`email`)), LENGTH(LOWER(TRIM('@gmail.com')))) = LOWER(TRIM('@gmail.com'))
      ),
      FALSE
    ) AS `__s17`,
    (
      COALESCE((
        (
          `__f14` >= CAST(150.0 AS FLOAT64)
        )
      ), FALSE)
    )
    AND (
      COALESCE((
        (
          COALESCE(`__f15`, 0) = CAST(0.0 AS FLOAT64)
        )
      ), FALSE)
    ) AS `__s18`,
    COALESCE((
      INSTR(LOWER(TRIM(`interests`)), LOWER(TRIM('electronics'))) > 0
    ), FALSE) AS `__s19`,
    COALESCE((
      (
        COALESCE(`__f16`, 0) >= CAST(4.0 AS FLOAT64)
      )
    ), FALSE) AS `__s20`,
    COALESCE((
      (
        `predicted_clv` >= 100
      ) AND (
        `predicted_clv` <= 500
      )
    ), FALSE) AS `__s21`,
    (
      CASE
        WHEN `latitude` BETWEEN CAST(40.30384158901104 AS FLOAT64) AND CAST(41.21215841098896 AS FLOAT64)
        AND `longitude` BETWEEN CAST(-74.59525487907558 AS FLOAT64) AND CAST(-73.37574512092442 AS FLOAT64)
        THEN COALESCE(
          (
            CAST(12742.0 AS FLOAT64) * ASIN(
              LEAST(
                CAST(1.0 AS FLOAT64),
                SQRT(
                  POWER(
                    SIN(
                      (
                        `latitude` - CAST(40.758 AS FLOAT64)
                      ) * (
                        ACOS(-1) / 180
                      ) / CAST(2.0 AS FLOAT64)
                    ),
                    2
                  ) + COS((
                    CAST(40.758 AS FLOAT64)
                  ) * (
                    ACOS(-1) / 180
                  )) * COS((
                    `latitude`
                  ) * (
                    ACOS(-1) / 180
                  )) * POWER(
                    SIN(
                      (
                        `longitude` - CAST(-73.9855 AS FLOAT64)
                      ) * (
                        ACOS(-1) / 180
                      ) / CAST(2.0 AS FLOAT64)
                    ),
                    2
                  )
                )
              )
            ) <= CAST(50.0 AS FLOAT64)
          ),
          FALSE
        )
        ELSE FALSE
      END
    )
    OR (
      CASE
        WHEN `latitude` BETWEEN CAST(41.44084158901104 AS FLOAT64) AND CAST(42.34915841098896 AS FLOAT64)
        AND `longitude` BETWEEN CAST(-88.2449638366727 AS FLOAT64) AND CAST(-87.00363616332731 AS FLOAT64)
        THEN COALESCE(
          (
            CAST(12742.0 AS FLOAT64) * ASIN(
              LEAST(
                CAST(1.0 AS FLOAT64),
                SQRT(
                  POWER(
                    SIN(
                      (
                        `latitude` - CAST(41.895 AS FLOAT64)
                      ) * (
                        ACOS(-1) / 180
                      ) / CAST(2.0 AS FLOAT64)
                    ),
                    2
                  ) + COS((
                    CAST(41.895 AS FLOAT64)
                  ) * (
                    ACOS(-1) / 180
                  )) * COS((
                    `latitude`
                  ) * (
                    ACOS(-1) / 180
                  )) * POWER(
                    SIN(
                      (
                        `longitude` - CAST(-87.6243 AS FLOAT64)
                      ) * (
                        ACOS(-1) / 180
                      ) / CAST(2.0 AS FLOAT64)
                    ),
                    2
                  )
                )
              )
            ) <= CAST(50.0 AS FLOAT64)
          ),
          FALSE
        )
        ELSE FALSE
      END
    )
    OR (
      CASE
        WHEN `latitude` BETWEEN CAST(33.59584158901104 AS FLOAT64) AND CAST(34.50415841098896 AS FLOAT64)
        AND `longitude` BETWEEN CAST(-118.79661980928613 AS FLOAT64) AND CAST(-117.68338019071386 AS FLOAT64)
        THEN COALESCE(
          (
            CAST(12742.0 AS FLOAT64) * ASIN(
              LEAST(
                CAST(1.0 AS FLOAT64),
                SQRT(
                  POWER(
                    SIN(
                      (
                        `latitude` - CAST(34.05 AS FLOAT64)
                      ) * (
                        ACOS(-1) / 180
                      ) / CAST(2.0 AS FLOAT64)
                    ),
                    2
                  ) + COS((
                    CAST(34.05 AS FLOAT64)
                  ) * (
                    ACOS(-1) / 180
                  )) * COS((
                    `latitude`
                  ) * (
                    ACOS(-1) / 180
                  )) * POWER(
                    SIN(
                      (
                        `longitude` - CAST(-118.24 AS FLOAT64)
                      ) * (
                        ACOS(-1) / 180
                      ) / CAST(2.0 AS FLOAT64)
                    ),
                    2
                  )
                )
              )
            ) <= CAST(50.0 AS FLOAT64)
          ),
          FALSE
        )
        ELSE FALSE
      END
    ) AS `__s22`,
    CASE
      WHEN `latitude` BETWEEN CAST(37.560920294505515 AS FLOAT64) AND CAST(38.01507970549448 AS FLOAT64)
      AND `longitude` BETWEEN CAST(-122.69861001921299 AS FLOAT64) AND CAST(-122.116389980787 AS FLOAT64)
      THEN COALESCE(
        (
          CAST(12742.0 AS FLOAT64) * ASIN(
            LEAST(
              CAST(1.0 AS FLOAT64),
              SQRT(
                POWER(
                  SIN(
                    (
                      `latitude` - CAST(37.788 AS FLOAT64)
                    ) * (
                      ACOS(-1) / 180
                    ) / CAST(2.0 AS FLOAT64)
                  ),
                  2
                ) + COS((
                  CAST(37.788 AS FLOAT64)
                ) * (
                  ACOS(-1) / 180
                )) * COS((
                  `latitude`
                ) * (
                  ACOS(-1) / 180
                )) * POWER(
                  SIN(
                    (
                      `longitude` - CAST(-122.4075 AS FLOAT64)
                    ) * (
                      ACOS(-1) / 180
                    ) / CAST(2.0 AS FLOAT64)
                  ),
                  2
                )
              )
            )
          ) <= CAST(25.0 AS FLOAT64)
        ),
        FALSE
      )
      ELSE FALSE
    END AS `__s23`,
    (
      COALESCE(
        (
          (
            `signup_at` >= CAST('2026-10-24 00:00:00' AS TIMESTAMP)
          )
          AND (
            `signup_at` <= CAST('2026-11-23 00:00:00' AS TIMESTAMP)
          )
        ),
        FALSE
      )
    )
    AND (
      COALESCE((
        (
          COALESCE(`__f17`, 0) = CAST(0.0 AS FLOAT64)
        )
      ), FALSE)
    ) AS `__s24`,
    NOT (
      COALESCE((
        NOT `predicted_clv` IS NULL
      ), FALSE)
    ) AS `__s25`,
    COALESCE((
      `email_consent` = FALSE
    ), FALSE) AS `__s26`,
    (
      COALESCE((
        LOWER(TRIM(`lifecycle_stage`)) = LOWER(TRIM('active'))
      ), FALSE)
    )
    AND (
      COALESCE((
        (
          COALESCE(`__f18`, 0) = CAST(0.0 AS FLOAT64)
        )
      ), FALSE)
    ) AS `__s27`,
    (
      COALESCE(
        (
          LOWER(TRIM(`region`)) IN (LOWER(TRIM('NY')), LOWER(TRIM('NJ')), LOWER(TRIM('MA')))
        ),
        FALSE
      )
    )
    AND (
      COALESCE((
        `email_consent` = TRUE
      ), FALSE)
    ) AS `__s28`,
    COALESCE((
      `signup_at` < CAST('2024-01-01 00:00:00' AS TIMESTAMP)
    ), FALSE) AS `__s29`,
    COALESCE((
      (
        COALESCE(`__f9`, 0) >= CAST(3.0 AS FLOAT64)
      )
    ), FALSE) AS `__s30`,
    COALESCE((
      (
        COALESCE(`__f15`, 0) >= CAST(3.0 AS FLOAT64)
      )
    ), FALSE) AS `__s31`,
    COALESCE((
      `__p2`
    ), FALSE) AS `__s32`,
    COALESCE((
      (
        `__f19` >= CAST(2000.0 AS FLOAT64)
      )
    ), FALSE) AS `__s33`,
    COALESCE(
      (
        LEFT(LOWER(TRIM(`city`)), LENGTH(LOWER(TRIM('san')))) = LOWER(TRIM('san'))
      ),
      FALSE
    ) AS `__s34`,
    COALESCE((
      `age` >= 65
    ), FALSE) AS `__s35`,
    COALESCE(
      (
        (
          `signup_at` >= CAST('2026-08-25 00:00:00' AS TIMESTAMP)
        )
        AND (
          `signup_at` <= CAST('2026-11-23 00:00:00' AS TIMESTAMP)
        )
      ),
      FALSE
    ) AS `__s36`,
    COALESCE(
      (
        (
          FLOOR(
            (
              CAST(1795392000.0 AS FLOAT64) - UNIX_SECONDS(CAST(`__f1` AS TIMESTAMP))
            ) / CAST(86400.0 AS FLOAT64)
          ) >= CAST(30.0 AS FLOAT64)
        )
        AND (
          FLOOR(
            (
              CAST(1795392000.0 AS FLOAT64) - UNIX_SECONDS(CAST(`__f1` AS TIMESTAMP))
            ) / CAST(86400.0 AS FLOAT64)
          ) <= CAST(60.0 AS FLOAT64)
        )
      ),
      FALSE
    ) AS `__s37`,
    COALESCE((
      (
        `__f19` >= CAST(1000.0 AS FLOAT64)
      )
    ), FALSE) AS `__s38`,
    (
      COALESCE((
        LOWER(TRIM(`gender`)) = LOWER(TRIM('male'))
      ), FALSE)
    )
    AND (
      COALESCE((
        (
          `age` >= 25
        ) AND (
          `age` <= 34
        )
      ), FALSE)
    )
    AND (
      (
        COALESCE((
          INSTR(LOWER(TRIM(`interests`)), LOWER(TRIM('sports'))) > 0
        ), FALSE)
      )
      OR (
        COALESCE((
          (
            COALESCE(`__f20`, 0) >= CAST(1.0 AS FLOAT64)
          )
        ), FALSE)
      )
    ) AS `__s39`,
    COALESCE((
      `__f14` >= `__t1`
    ), FALSE) AS `__s40`,
    COALESCE((
      COALESCE(`__f8`, 0) >= `__t2`
    ), FALSE) AS `__s41`,
    COALESCE((
      `__f19` >= `__t3`
    ), FALSE) AS `__s42`,
    COALESCE((
      (
        COALESCE(`__f21`, 0) >= CAST(1.0 AS FLOAT64)
      )
    ), FALSE) AS `__s43`,
    (
      COALESCE(
        (
          LOWER(TRIM(`home_airport`)) IN (LOWER(TRIM('SFO')), LOWER(TRIM('LAX')), LOWER(TRIM('JFK')))
        ),
        FALSE
      )
    )
    AND (
      COALESCE((
        (
          COALESCE(`__f22`, 0) >= CAST(1.0 AS FLOAT64)
        )
      ), FALSE)
    )
    AND (
      NOT (
        COALESCE((
          INSTR(LOWER(TRIM(`interests`)), LOWER(TRIM('travel'))) > 0
        ), FALSE)
      )
    ) AS `__s44`,
    COALESCE((
      (
        COALESCE(`__f9`, 0) = CAST(0.0 AS FLOAT64)
      )
    ), FALSE) AS `__s45`,
    COALESCE(
      (
        NOT `__f23` IS NULL AND (
          `__f24` IS NULL OR `__f24` <= `__f23`
        )
      ),
      FALSE
    ) AS `__s46`,
    (
      COALESCE((
        LOWER(TRIM(`region`)) = LOWER(TRIM('CA'))
      ), FALSE)
    )
    AND (
      COALESCE((
        (
          COALESCE(`__f25`, 0) >= CAST(4.0 AS FLOAT64)
        )
      ), FALSE)
    )
    AND (
      COALESCE((
        COALESCE(`__f15`, 0) >= `__t4`
      ), FALSE)
    )
    AND (
      NOT (
        (
          COALESCE((
            LOWER(TRIM(`lifecycle_stage`)) = LOWER(TRIM('at_risk'))
          ), FALSE)
        )
        OR (
          (
            COALESCE((
              (
                COALESCE(`__f8`, 0) >= CAST(2.0 AS FLOAT64)
              )
            ), FALSE)
          )
          AND (
            COALESCE(
              (
                (
                  FLOOR(
                    (
                      CAST(1795392000.0 AS FLOAT64) - UNIX_SECONDS(CAST(`__f1` AS TIMESTAMP))
                    ) / CAST(86400.0 AS FLOAT64)
                  ) >= CAST(60.0 AS FLOAT64)
                )
              ),
              FALSE
            )
          )
        )
      )
    ) AS `__s47`,
    (
      COALESCE((
        `__f19` >= `__t3`
      ), FALSE)
    )
    AND (
      NOT (
        (
          COALESCE((
            LOWER(TRIM(`lifecycle_stage`)) = LOWER(TRIM('at_risk'))
          ), FALSE)
        )
        OR (
          (
            COALESCE((
              (
                COALESCE(`__f8`, 0) >= CAST(2.0 AS FLOAT64)
              )
            ), FALSE)
          )
          AND (
            COALESCE(
              (
                (
                  FLOOR(
                    (
                      CAST(1795392000.0 AS FLOAT64) - UNIX_SECONDS(CAST(`__f1` AS TIMESTAMP))
                    ) / CAST(86400.0 AS FLOAT64)
                  ) >= CAST(60.0 AS FLOAT64)
                )
              ),
              FALSE
            )
          )
        )
      )
    ) AS `__s48`,
    (
      COALESCE((
        LOWER(TRIM(`gender`)) = LOWER(TRIM('female'))
      ), FALSE)
    )
    AND (
      NOT (
        COALESCE((
          LOWER(TRIM(`lifecycle_stage`)) = LOWER(TRIM('lapsed'))
        ), FALSE)
      )
    ) AS `__s49`
  FROM `__ranked`
)
SELECT
  `profile_id`,
  `email`,
  CASE WHEN `email_key` = `email` OR `email_key` = '' THEN NULL ELSE `email_key` END AS `email_key`,
  CASE
    WHEN `email_key` IS NULL
    THEN 3
    WHEN `email_key` = ''
    THEN 2
    WHEN `email_key` = `email`
    THEN 0
    ELSE 1
  END AS `email_form`,
  `consent`,
  CAST(CASE WHEN `__s0` THEN 1 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s1` THEN 2 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s2` THEN 4 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s3` THEN 8 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s4` THEN 16 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s5` THEN 32 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s6` THEN 64 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s7` THEN 128 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s8` THEN 256 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s9` THEN 512 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s10` THEN 1024 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s11` THEN 2048 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s12` THEN 4096 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s13` THEN 8192 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s14` THEN 16384 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s15` THEN 32768 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s16` THEN 65536 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s17` THEN 131072 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s18` THEN 262144 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s19` THEN 524288 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s20` THEN 1048576 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s21` THEN 2097152 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s22` THEN 4194304 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s23` THEN 8388608 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s24` THEN 16777216 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s25` THEN 33554432 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s26` THEN 67108864 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s27` THEN 134217728 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s28` THEN 268435456 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s29` THEN 536870912 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s30` THEN 1073741824 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s31` THEN 2147483648 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s32` THEN 4294967296 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s33` THEN 8589934592 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s34` THEN 17179869184 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s35` THEN 34359738368 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s36` THEN 68719476736 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s37` THEN 137438953472 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s38` THEN 274877906944 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s39` THEN 549755813888 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s40` THEN 1099511627776 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s41` THEN 2199023255552 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s42` THEN 4398046511104 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s43` THEN 8796093022208 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s44` THEN 17592186044416 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s45` THEN 35184372088832 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s46` THEN 70368744177664 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s47` THEN 140737488355328 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s48` THEN 281474976710656 ELSE 0 END AS INT64) + CAST(CASE WHEN `__s49` THEN 562949953421312 ELSE 0 END AS INT64) AS `__m0`
FROM `__all`
WHERE
  (
    `__s0`
  )
  OR (
    `__s1`
  )
  OR (
    `__s2`
  )
  OR (
    `__s3`
  )
  OR (
    `__s4`
  )
  OR (
    `__s5`
  )
  OR (
    `__s6`
  )
  OR (
    `__s7`
  )
  OR (
    `__s8`
  )
  OR (
    `__s9`
  )
  OR (
    `__s10`
  )
  OR (
    `__s11`
  )
  OR (
    `__s12`
  )
  OR (
    `__s13`
  )
  OR (
    `__s14`
  )
  OR (
    `__s15`
  )
  OR (
    `__s16`
  )
  OR (
    `__s17`
  )
  OR (
    `__s18`
  )
  OR (
    `__s19`
  )
  OR (
    `__s20`
  )
  OR (
    `__s21`
  )
  OR (
    `__s22`
  )
  OR (
    `__s23`
  )
  OR (
    `__s24`
  )
  OR (
    `__s25`
  )
  OR (
    `__s26`
  )
  OR (
    `__s27`
  )
  OR (
    `__s28`
  )
  OR (
    `__s29`
  )
  OR (
    `__s30`
  )
  OR (
    `__s31`
  )
  OR (
    `__s32`
  )
  OR (
    `__s33`
  )
  OR (
    `__s34`
  )
  OR (
    `__s35`
  )
  OR (
    `__s36`
  )
  OR (
    `__s37`
  )
  OR (
    `__s38`
  )
  OR (
    `__s39`
  )
  OR (
    `__s40`
  )
  OR (
    `__s41`
  )
  OR (
    `__s42`
  )
  OR (
    `__s43`
  )
  OR (
    `__s44`
  )
  OR (
    `__s45`
  )
  OR (
    `__s46`
  )
  OR (
    `__s47`
  )
  OR (
    `__s48`
  )
  OR (
    `__s49`
  )
ORDER BY
  `profile_id`
