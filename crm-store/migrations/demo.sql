-- demo: the demo business and a few leads, applied by crm-store when
-- MERKAZIA_STORE_DEMO=1 (never a numbered migration: production databases
-- must not get demo rows). Idempotent: running it again changes nothing.
INSERT INTO businesses (id, name, greeting, voice, agent_instructions,
        business_hours, transfer_number)
VALUES (1, 'שי דירות ומשרדים בע״מ',
    'שלום, הגעתם לשי דירות ומשרדים. אני העוזרת הדיגיטלית, איך אפשר לעזור?',
    'he-IL-Wavenet-A',
    'את נציגה של משרד התיווך "שי דירות ומשרדים" בתל אביב. '
    'דברי בעברית, בקצרה ובחום, משפט או שניים בכל פעם. '
    'שאלי מה הלקוח מחפש: קנייה, שכירות או מכירה; עיר ושכונה; מספר חדרים; '
    'תקציב בשקלים; מתי הוא צריך להיכנס; והאם חשובים לו חניה, מעלית, ממ״ד או מרפסת. '
    'אם הלקוח רוצה לראות נכס, קבעי בקשה לביקור ואמרי שנציג יאשר אותה. '
    'לעולם אל תמציאי נכסים או מחירים. אם מבקשים נציג אנושי, העבירי את השיחה.',
    '{"sun":[["09:00","19:00"]],"mon":[["09:00","19:00"]],"tue":[["09:00","19:00"]],'
    '"wed":[["09:00","19:00"]],"thu":[["09:00","19:00"]],"fri":[["09:00","13:00"]],"sat":[]}',
    '+97235550199')
ON CONFLICT (id) DO NOTHING;
SELECT setval('businesses_id_seq', greatest((SELECT max(id) FROM businesses), 1));

INSERT INTO business_numbers (number, business_id)
VALUES ('+97235550100', 1)
ON CONFLICT (number) DO NOTHING;

INSERT INTO customers (business_id, phone, name, source, pipeline, stage,
        lead_score, sentiment, deal_type, cities, neighbourhoods, rooms_min,
        rooms_max, budget_min, budget_max, property_type, timeline,
        need_parking, need_elevator, need_mamad, need_balcony)
VALUES
    (1, '+972501234567', 'דנה כהן', 'call', 'buyer_renter', 'new', 72,
     'positive', 'buy', '{תל אביב}', '{הצפון הישן}', 3.5, 4, 2800000,
     3400000, 'דירה', 'עד שלושה חודשים', true, true, true, NULL),
    (1, '+972521112233', 'יוסי לוי', 'whatsapp', 'buyer_renter', 'contacted', 55,
     'neutral', 'rent', '{רמת גן}', '{}', 2, 3, 5000, 6500, 'דירה', 'מיידי',
     NULL, true, NULL, true),
    (1, '+972547778899', 'מיכל אברהם', 'referral', 'seller_landlord', 'new', 80,
     'positive', 'sell', '{גבעתיים}', '{בורוכוב}', 4, 4, 3900000, NULL,
     'דירת גן', 'חצי שנה', true, NULL, true, NULL)
ON CONFLICT (business_id, phone) DO NOTHING;
