"""Realistic chat text in several languages (English, German, French, Spanish, Russian,
Japanese, Chinese), deterministic for a seed: words drawn by a Zipf law from each language's
list (most common first), so a few words are everywhere and most are rare, as in real chat;
some messages carry a link or a mention."""

# ruff: noqa: RUF001 - the Cyrillic words are meant

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass


def _words(text: str) -> list[str]:
    return text.split()


EN = _words(
    "the to and a is it you that of in for on this we be have with not are just can will "
    "do so but what if was me my at all about get like think know now there good one our "
    "meeting today tomorrow time team please thanks yes okay need work let see going back "
    "project deadline update review release build test deploy server issue ticket fix bug "
    "customer feedback design draft document notes agenda call week friday monday lunch "
    "coffee budget report quarterly roadmap sprint demo branch merge pipeline staging "
    "production database migration latency dashboard metrics alert incident postmortem "
    "onboarding hiring interview offsite holiday vacation invoice contract proposal "
    "launch"
)
DE = _words(
    "der die und das ist nicht ich es zu ein wir sie mit auf für den im auch noch heute "
    "morgen bitte danke gut ja nein besprechung termin projekt frist bericht entwurf "
    "kunde fehler server straßenbahn mittagessen woche freitag montag urlaub rechnung "
    "vertrag angebot veröffentlichung prüfung übersicht größe änderung"
)
FR = _words(
    "le la les et est de un une je pas que nous vous il elle pour sur avec dans "
    "aujourd'hui demain merci oui non réunion projet échéance rapport brouillon client "
    "problème serveur déjeuner semaine vendredi lundi vacances facture contrat "
    "proposition lancement équipe révision déploiement"
)
ES = _words(
    "el la los y es de un una que no en por para con nosotros hoy mañana gracias sí "
    "reunión proyecto plazo informe borrador cliente problema servidor almuerzo semana "
    "viernes lunes vacaciones factura contrato propuesta lanzamiento equipo revisión "
    "despliegue"
)
RU = _words(
    "и в не на я что он с это мы вы как по но сегодня завтра спасибо да нет встреча "
    "проект срок отчёт черновик клиент ошибка сервер обед неделя пятница понедельник "
    "отпуск счёт договор предложение запуск команда"
)
JA = _words(
    "です ます は が を に で と の から まで 今日 明日 ありがとう "
    "はい いいえ 会議 会議室 予定 東京 東京タワー 大阪 プロジェクト "
    "締め切り 報告書 下書き お客様 不具合 サーバー 昼ご飯 金曜日 月曜日 "
    "休暇 請求書 契約 提案 リリース チーム 確認 よろしく お願いします"
)
ZH = _words(
    "的 是 在 了 我们 你 他 这 那 有 不 和 今天 明天 谢谢 好的 "
    "会议 会议室 项目 截止日期 报告 草稿 客户 问题 服务器 午饭 星期五 "
    "星期一 假期 发票 合同 提案 发布 团队 北京 上海 开会 检查 部署"
)


@dataclass(frozen=True, slots=True)
class Language:
    """A word list (most common first), how words join, and how a sentence ends."""

    words: tuple[str, ...]
    joiner: str
    end: str
    length: tuple[int, int]
    share: float

    def cumulative(self) -> list[float]:
        """Zipf weights as random.choices wants them (cumulative)."""
        return list(itertools.accumulate(1 / (rank + 1) for rank in range(len(self.words))))


LANGUAGES = (
    Language(tuple(EN), " ", ".", (3, 18), 0.45),
    Language(tuple(DE), " ", ".", (3, 14), 0.10),
    Language(tuple(FR), " ", ".", (3, 14), 0.10),
    Language(tuple(ES), " ", ".", (3, 14), 0.10),
    Language(tuple(RU), " ", ".", (3, 14), 0.05),
    Language(tuple(JA), "", "。", (3, 9), 0.10),
    Language(tuple(ZH), "", "。", (3, 9), 0.10),
)


def messages(seed: int, mentionable: list[str]) -> Iterator[str]:
    """Endless chat messages, the same ones for the same seed."""
    rng = random.Random(seed)
    weights = [[*language.cumulative()] for language in LANGUAGES]
    shares = list(itertools.accumulate(language.share for language in LANGUAGES))
    serial = itertools.count()
    while True:
        [n] = rng.choices(range(len(LANGUAGES)), cum_weights=shares)
        language = LANGUAGES[n]
        count = rng.randint(*language.length)
        words = rng.choices(language.words, cum_weights=weights[n], k=count)
        text = language.joiner.join(words)
        if language.joiner:
            text = text[:1].upper() + text[1:]
        text += language.end
        roll = rng.random()
        if roll < 0.05:
            text += f" https://example.com/docs/{next(serial)}"
        elif roll < 0.08 and mentionable:
            text = f"@{rng.choice(mentionable)} {text}"
        yield text
