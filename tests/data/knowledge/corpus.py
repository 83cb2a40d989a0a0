"""The knowledge-base benchmark's corpus: the hand-written support articles of a fictional smart-home shop
(articles.json, the ones the labelled questions in questions.json are about) plus generated distractors up to
2,000 articles: product-specific pages (specifications, firmware notes, mounting, LEDs, care, integrations,
showrooms, automation recipes) that read like real help-centre pages but answer none of the questions.

The questions were written before any tuning, as customers type them: paraphrases sharing few words with the
titles, in English, Russian, German, Spanish and Latvian; each names the article(s) that answer it."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PRODUCTS = ["Hub", "Hub Mini", "Glow A19 bulb", "Glow GU10 spot", "Glow light strip", "Glow filament bulb",
            "Sense thermostat", "Sense radiator valve", "Cam doorbell", "Cam indoor", "Cam outdoor", "Cam floodlight",
            "Smart plug", "Outdoor plug", "Door sensor", "Motion sensor", "Water leak sensor", "Smoke alarm",
            "Siren", "Keypad", "Smart lock", "Blind motor", "Range extender", "Button", "Air quality monitor"]
GENERATIONS = ["Gen 1", "Gen 2", "Gen 3", "2024 edition", "Pro"]
RADIOS = ["Zigbee 3.0", "Thread", "Bluetooth LE 5.2", "Wi-Fi 4 (2.4 GHz)", "Z-Wave 700"]
SURFACES = ["brick walls", "wooden frames", "plasterboard", "metal door frames", "glass", "tiles"]
ROOMS = ["the bathroom", "the garage", "a garden shed", "the nursery", "a holiday cabin", "a cellar"]
PLATFORMS = ["Apple Home", "SmartThings", "Home Assistant", "Matter controllers", "IFTTT", "Homey"]
CITIES = ["Riga", "Tallinn", "Vilnius", "Berlin", "Hamburg", "Madrid", "Valencia", "Warsaw", "Prague", "Vienna",
          "Lyon", "Milan", "Porto", "Copenhagen", "Helsinki"]
COLOURS = ["solid white", "slow blue pulse", "fast green blink", "purple", "red twice", "amber breathing"]
RECIPES = [("hallway lights when the front door opens", "Door sensor", "Glow A19 bulb"),
           ("a siren when water is detected", "Water leak sensor", "Siren"),
           ("blinds down at sunset", "Button", "Blind motor"),
           ("the heating off when a window opens", "Door sensor", "Sense radiator valve"),
           ("a night light when motion is seen after midnight", "Motion sensor", "Glow light strip"),
           ("the coffee machine on at 6:30 on weekdays", "Button", "Smart plug"),
           ("the floodlight when the doorbell is pressed", "Cam doorbell", "Cam floodlight"),
           ("ventilation when the air gets stale", "Air quality monitor", "Smart plug")]


def _specs(rng: random.Random, product: str, gen: str) -> tuple[str, str]:
    return (f"{product} {gen}: technical specifications",
            f"Dimensions {rng.randint(40, 160)} x {rng.randint(40, 160)} x {rng.randint(15, 60)} mm, weight "
            f"{rng.randint(35, 480)} g. Radio: {rng.choice(RADIOS)}, range up to {rng.randint(10, 40)} m indoors. "
            f"Operating temperature {rng.randint(-20, 5)} to {rng.randint(35, 50)} degrees, humidity up to "
            f"{rng.randint(80, 95)} percent. Protection class IP{rng.choice(['20', '44', '54', '65', '66'])}. "
            f"Model number BW-{rng.randint(1000, 9999)}. Materials: recycled polycarbonate housing.")


def _firmware(rng: random.Random, product: str, gen: str) -> tuple[str, str]:
    version = f"{rng.randint(1, 6)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
    fixes = rng.sample(["faster start-up after a restart", "lower standby consumption", "more accurate "
                        "temperature readings", "smoother dimming at low levels", "better range to the Hub",
                        "corrected daylight saving time changes", "new languages in the device menu",
                        "fewer false triggers in bright sunlight", "support for the new mounting plate"], 3)
    return (f"{product} {gen}: release notes for version {version}",
            f"Version {version} is rolled out in stages over two weeks. What changed: {fixes[0]}; {fixes[1]}; "
            f"{fixes[2]}. Known limitation: the device may show its previous version number in the app for up "
            f"to an hour after the change.")


def _mounting(rng: random.Random, product: str, gen: str) -> tuple[str, str]:
    surface = rng.choice(SURFACES)
    return (f"{product} {gen}: mounting on {surface}",
            f"Use the {rng.choice(['adhesive pad', 'screws and plugs', 'magnetic plate', 'angled wedge'])} "
            f"included in the box. On {surface}, mark the holes with the template, drill with a "
            f"{rng.randint(4, 8)} mm bit where needed, and mount at a height of {rng.randint(90, 220)} cm. "
            f"Keep it away from radiators and direct sunlight, and at least 30 cm from metal objects.")


def _leds(rng: random.Random, product: str, gen: str) -> tuple[str, str]:
    meanings = rng.sample(["starting up", "ready to be added", "adding in progress", "update being installed",
                           "battery critical", "identify requested from the app", "button locked"], 3)
    colours = rng.sample(COLOURS, 3)
    return (f"{product} {gen}: what the status light means",
            f"{colours[0].capitalize()}: {meanings[0]}. {colours[1].capitalize()}: {meanings[1]}. "
            f"{colours[2].capitalize()}: {meanings[2]}. The light can be dimmed or switched off in the device's "
            f"settings; it still flashes once when the device is pressed.")


def _care(rng: random.Random, product: str, gen: str) -> tuple[str, str]:
    return (f"{product} {gen}: cleaning and care",
            f"Wipe the housing with a dry or slightly damp microfibre cloth. Do not use solvents, alcohol or "
            f"abrasive cleaners. Keep vents free of dust; check them every {rng.randint(2, 12)} months. Do not "
            f"paint the housing or cover the sensor window.")


def _rooms(rng: random.Random, product: str, gen: str) -> tuple[str, str]:
    room = rng.choice(ROOMS)
    return (f"Using the {product} {gen} in {room}",
            f"The {product} can be used in {room} if it stays within its temperature range and out of splashing "
            f"water. Condensation can shorten its life: allow {rng.randint(1, 4)} hours to adjust after moving it "
            f"from cold to warm rooms. For outbuildings, a range extender may be needed.")


def _platform(rng: random.Random, product: str, gen: str) -> tuple[str, str]:
    platform = rng.choice(PLATFORMS)
    return (f"{product} {gen} with {platform}",
            f"The {product} appears in {platform} as a "
            f"{rng.choice(['switch', 'sensor', 'light', 'thermostat', 'lock', 'camera'])} once the Brightwave "
            f"bridge is enabled in Settings, Integrations. Names and rooms are copied once; later changes must be "
            f"made in both places. Some advanced settings are only available in the Brightwave app.")


def _box(rng: random.Random, product: str, gen: str) -> tuple[str, str]:
    extra = rng.choice(["a USB-C cable", "two AAA batteries", "a CR2032 cell", "a mounting plate", "a wall adapter"])
    fixing = rng.choice(["screws and plugs", "an adhesive pad", "a drilling template", "a release pin"])
    return (f"{product} {gen}: what is in the box",
            f"The {product}, a quick start guide, {extra}, {fixing} and the safety leaflet. The QR code for setup "
            f"is on the back of the device and inside the guide.")


def _showroom(rng: random.Random) -> tuple[str, str]:
    city = rng.choice(CITIES)
    return (f"Brightwave showroom in {city} #{rng.randint(1, 9)}",
            f"Our showroom in {city} is open Tuesday to Saturday {rng.randint(9, 11)}:00 to {rng.randint(17, 20)}:00. "
            f"You can try every product in a demo flat and attend free workshops on home automation. Parking is "
            f"available {rng.choice(['in the courtyard', 'across the street', 'in the shopping centre garage'])}. "
            f"The showroom does not sell products or take returns.")


def _recipe(rng: random.Random) -> tuple[str, str]:
    what, trigger, action = rng.choice(RECIPES)
    return (f"Automation idea {rng.randint(1, 999)}: {what}",
            f"In the app open Automations, press Add, choose the {trigger} as the trigger and the {action} as the "
            f"action. Add a condition on time of day or presence if you like. Automations run on the Hub, so "
            f"they keep working without internet.")


PER_PRODUCT = (_specs, _firmware, _mounting, _leds, _care, _rooms, _platform, _box)


def distractors(count: int, seed: int = 2026) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    made: dict[str, dict[str, Any]] = {}
    while len(made) < count:
        roll = rng.random()
        if roll < 0.06:
            title, body = _showroom(rng)
            tags = ["showroom"]
        elif roll < 0.12:
            title, body = _recipe(rng)
            tags = ["automation"]
        else:
            product, gen = rng.choice(PRODUCTS), rng.choice(GENERATIONS)
            title, body = rng.choice(PER_PRODUCT)(rng, product, gen)
            tags = ["devices", product.split()[0].lower()]
        article_id = f"gen-{len(made):04d}"
        if title not in {a["title"] for a in made.values()}:
            made[article_id] = {"id": article_id, "title": title, "body": body, "tags": tags}
    return list(made.values())


def articles(total: int = 2000) -> list[dict[str, Any]]:
    """The hand-written articles, then distractors up to `total`, all in English."""
    written = json.loads((HERE / "articles.json").read_text())
    return [{"language": "en", **a} for a in written + distractors(total - len(written))]


def questions() -> list[dict[str, Any]]:
    """Each: q (as a customer writes it), lang (ISO 639-1), answers (ids of the articles that answer it)."""
    return json.loads((HERE / "questions.json").read_text())
