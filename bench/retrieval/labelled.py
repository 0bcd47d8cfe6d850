"""A labelled question set for retrieval quality: 50 generated profiles of fictional people,
places, products, organisations and ships, and three questions per profile whose answer is in
that profile only.

* `name` questions name the entity ("In what year was Tavel Brindor born?"): they share the
  rare name and some words with their answer, the case keyword search is built for.
* `fact` questions ask about the profile's one distinctive fact in its own words, without the
  name ("Who is terrified of deep water?" for "She is terrified of deep water and ...").
* `paraphrase` questions ask about the same fact in other words ("Which woman is afraid of
  the ocean?"). They are written to share no indexed word with their answer; `run.py` checks
  this with the same FTS5 tokenizer as the index (porter stemming) and reports any overlap.

Every profile is built from the same templates of its kind (birth year, town, population,
price, employees ...), so all profiles of a kind share most of their words and look alike
to a keyword index, apart from the name and the distinctive fact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# (kind noun, distinctive fact, question in the fact's words, paraphrased question); people also carry their pronoun
PEOPLE = [
    ("carpenter", "She", "She is terrified of deep water and has never learned to swim.", "Who is terrified of deep water?", "Which woman is afraid of the ocean?"),
    ("clockmaker", "He", "He collects antique pocket watches and owns more than three hundred of them.", "Who collects antique pocket watches?", "Who is an avid hoarder of vintage timepieces?"),
    ("pharmacist", "She", "Every morning she runs a marathon distance before breakfast.", "Who runs a marathon distance every morning?", "Who jogs about forty-two kilometres daily at dawn?"),
    ("blacksmith", "He", "He lost his left hand in a sawmill accident as a teenager.", "Who lost a hand in a sawmill accident?", "Which craftsman is missing a limb from an injury in his youth?"),
    ("translator", "She", "She speaks eleven languages fluently, including Icelandic and Swahili.", "Who speaks Icelandic and Swahili?", "Who is a gifted polyglot?"),
    ("geologist", "He", "He refuses to travel by airplane and crossed the Atlantic by cargo freighter.", "Who crossed the Atlantic on a cargo freighter?", "Which man is scared of flying?"),
    ("veterinarian", "She", "She was raised by her grandmother on a sheep farm.", "Who was raised on a sheep farm by a grandmother?", "Who spent childhood with a grandparent tending a flock?"),
    ("librarian", "He", "He is allergic to peanuts and carries an adrenaline injector everywhere.", "Who carries an adrenaline injector because of peanuts?", "Whose body reacts dangerously to groundnuts?"),
    ("surveyor", "She", "She plays the cello in a string quartet on weekends.", "Who plays the cello in a string quartet?", "Which woman performs chamber music with a bowed instrument in spare time?"),
    ("baker", "He", "He once won a national chess championship at the age of fourteen.", "Who won a national chess championship at fourteen?", "Who took a country-wide title in a strategy board game as a youngster?"),
]
PLACES = [
    ("village", "The village has no cars, and residents get around by canal boats.", "Where do residents get around by canal boats?", "Which settlement relies on waterways instead of automobiles?"),
    ("hamlet", "Snow falls there only once every few decades.", "Where does snow fall only once every few decades?", "Where is frozen weather extremely rare?"),
    ("town", "The town is famous for a festival where crowds throw tomatoes at each other.", "Which town has a festival where crowds throw tomatoes?", "Where do people hurl ripe vegetables during an annual celebration?"),
    ("island", "The island is home to a colony of ten thousand puffins.", "Where is there a colony of puffins?", "Where do seabirds with colourful beaks nest?"),
    ("settlement", "A volcano next to the settlement last erupted in 1911.", "Which settlement is next to a volcano?", "Which place sits beside a mountain that spewed lava over a century ago?"),
    ("port", "The harbour freezes solid every January.", "Where does the harbour freeze solid every January?", "Where does the sea ice over each winter?"),
    ("borough", "All the houses are painted bright pink by local law.", "Where are all the houses painted pink?", "Where must every home be coloured rose by regulation?"),
    ("parish", "The only bridge was built by Roman engineers.", "Where is the bridge built by Roman engineers?", "Which place has a span dating from the empire of Caesar?"),
    ("valley", "The valley produces most of the country's saffron.", "Which valley produces saffron?", "Where is the expensive crocus spice grown?"),
    ("commune", "It is the sunniest place in the region, with 320 clear days a year.", "Which place has 320 clear days a year?", "Which locale enjoys the most cloudless weather?"),
]
PRODUCTS = [
    ("kettle", "The kettle switches itself off if it is lifted while boiling.", "Which kettle switches itself off when lifted?", "Which appliance has an automatic cut-out when picked up?"),
    ("backpack", "The backpack has a built-in solar panel that charges a phone.", "Which backpack has a built-in solar panel?", "Which bag can power a mobile using sunlight?"),
    ("wristwatch", "The wristwatch is waterproof to a depth of two hundred metres.", "Which wristwatch is waterproof to two hundred metres?", "Which timepiece can survive diving far underwater?"),
    ("bicycle", "The bicycle folds down small enough to fit in a suitcase.", "Which bicycle folds down to fit in a suitcase?", "Which two-wheeler collapses to go into luggage?"),
    ("headset", "The headset cancels noise using six microphones.", "Which headset uses six microphones to cancel noise?", "Which earphones block out ambient sound?"),
    ("lamp", "The lamp changes colour to match the mood of the music playing.", "Which lamp changes colour to match the music?", "Which light reacts to songs by shifting hue?"),
    ("drone", "The drone follows its owner automatically while filming.", "Which drone follows its owner while filming?", "Which flying camera tracks the user on its own?"),
    ("mattress", "The mattress is filled with buckwheat husks instead of foam.", "Which mattress is filled with buckwheat husks?", "Which bed uses grain hulls as stuffing?"),
    ("toothbrush", "The toothbrush reports brushing habits to a smartphone app.", "Which toothbrush reports brushing habits to an app?", "Which dental hygiene gadget sends data to a mobile application?"),
    ("pen", "The pen can write upside down and in zero gravity.", "Which pen can write in zero gravity?", "Which stationery item works for astronauts?"),
]
ORGS = [
    ("company", "The company pays every employee the same salary, including the chief executive.", "Which company pays the chief executive the same salary as every employee?", "Which firm has identical wages for all staff and the CEO?"),
    ("bakery", "The bakery gives away its unsold bread to a homeless shelter each night.", "Which bakery gives unsold bread to a homeless shelter?", "Which shop donates leftover loaves to charity?"),
    ("consultancy", "The consultancy has its headquarters in a converted lighthouse.", "Which consultancy has its headquarters in a converted lighthouse?", "Which business operates from a former coastal beacon tower?"),
    ("brewery", "The brewery ages its beer in barrels sunk at the bottom of a lake.", "Which brewery ages its beer in barrels at the bottom of a lake?", "Which maker of ale matures its drink underwater?"),
    ("studio", "The studio has produced animated films using only clay figures.", "Which studio produces films with clay figures?", "Which team makes cartoons entirely from modelling putty?"),
    ("airline", "The airline operates only seaplanes that land on fjords.", "Which airline operates seaplanes that land on fjords?", "Which carrier flies aircraft that touch down on water inlets?"),
    ("cooperative", "The cooperative is owned by the fishermen who supply it.", "Which cooperative is owned by fishermen?", "Which enterprise belongs to the anglers providing its catch?"),
    ("publisher", "The publisher prints all of its books on paper made from recycled banana leaves.", "Which publisher prints books on paper made from banana leaves?", "Which press uses tropical fruit plant fibre for pages?"),
    ("school", "The school holds all of its lessons outdoors, even in winter.", "Which school holds its lessons outdoors?", "Which academy teaches classes outside regardless of the season?"),
    ("museum", "The museum is open only at night, from sunset to sunrise.", "Which museum is open from sunset to sunrise?", "Which gallery welcomes visitors exclusively after dark?"),
]
SHIPS = [
    ("cargo ship", "Her hull is made entirely of aluminium.", "Which cargo ship has a hull made of aluminium?", "Which vessel has a lightweight metal body?"),
    ("schooner", "The schooner once sailed around the world without a single engine.", "Which schooner sailed around the world without an engine?", "Which boat circumnavigated the globe powered only by wind?"),
    ("ferry", "The ferry carries trains as well as cars across the strait.", "Which ferry carries trains across the strait?", "Which boat transports railway carriages over the channel?"),
    ("icebreaker", "The icebreaker can smash through pack ice four metres thick.", "Which icebreaker can smash through ice four metres thick?", "Which vessel crushes frozen sea crust?"),
    ("yacht", "The yacht was sunk by a storm in 1987 and later raised from the seabed.", "Which yacht was sunk by a storm in 1987?", "Which craft was wrecked by bad weather and salvaged from the ocean floor?"),
    ("tugboat", "The tugboat is powered by a hydrogen fuel cell.", "Which tugboat is powered by a hydrogen fuel cell?", "Which small pusher vessel runs on clean H2 energy?"),
    ("cruise liner", "The cruise liner has a full-size skating rink on its top deck.", "Which cruise liner has a skating rink on its top deck?", "Which passenger vessel lets guests glide on frozen surfaces?"),
    ("research vessel", "The research vessel mapped the deepest trench in the Pacific.", "Which research vessel mapped the deepest trench in the Pacific?", "Which science boat charted the lowest point of the biggest ocean?"),
    ("riverboat", "The riverboat is pulled upstream by horses walking along the bank.", "Which riverboat is pulled by horses?", "Which barge is towed by animals on the towpath?"),
    ("submarine", "The old submarine was converted into a floating restaurant.", "Which submarine was converted into a restaurant?", "Which underwater boat now serves meals to diners?"),
]

SYL = ["var", "nik", "dor", "brel", "tes", "sa", "moor", "quel", "lon", "zor", "vex", "brin", "ka", "fo", "ri", "lu", "mex", "tav", "ost", "gar",
       "phi", "ul", "dra", "mo", "sel", "wyn", "cor", "thal", "ber", "ish", "ven", "ta", "ro", "kel", "dun", "ami", "zel", "orn", "pel", "vik"]
TOWNS = ["Marrow Bay", "Eastfold", "Kettering Cross", "Lindholm", "Port Avery", "Stonegate", "Westmere", "Ashcombe", "Brackwater", "Fernley"]
CITIES = ["Calder", "Norhaven", "Selby Hythe", "Ostrava Nova", "Quillon", "Redmarsh", "Tamsworth", "Vellport"]
SUBJECTS = ["mathematics", "history", "chemistry", "engineering", "economics", "biology"]
REGIONS = ["northern", "southern", "eastern", "western", "central", "coastal"]
INDUSTRIES = ["farming", "tourism", "textile mills", "forestry", "quarrying", "dairy production"]
COLORS = ["black", "white", "silver", "navy", "olive", "red", "grey", "sand"]
YARDS = ["Harland", "Kessel", "Dunmore", "Ravensworth", "Oakhurst"]


@dataclass
class Doc:
    name: str
    kind: str
    filename: str
    text: str


@dataclass
class Question:
    text: str
    doc: int  # index into the docs
    style: str  # name | fact | paraphrase


def _names(rng: random.Random, n: int) -> list[str]:
    seen: set[str] = set()
    out = []
    while len(out) < n:
        word = "".join(rng.choice(SYL) for _ in range(rng.choice((2, 2, 3)))).capitalize()
        if word.lower() not in seen and len(word) >= 5:
            seen.add(word.lower())
            out.append(word)
    return out


def build(seed: int = 7) -> tuple[list[Doc], list[Question]]:
    rng = random.Random(seed)
    names = iter(_names(rng, 200))
    docs: list[Doc] = []
    questions: list[Question] = []

    def add(name: str, kind: str, text: str, name_q: str, fact_q: str, paraphrase_q: str) -> None:
        i = len(docs)
        docs.append(Doc(name, kind, f"{name.lower().replace(' ', '_').replace('&', 'and')}.md", text))
        questions.append(Question(name_q, i, "name"))
        questions.append(Question(fact_q, i, "fact"))
        questions.append(Question(paraphrase_q, i, "paraphrase"))

    for prof, pron, fact, fact_q, para in PEOPLE:
        name = f"{next(names)} {next(names)}"
        poss, obj = ("her", "her") if pron == "She" else ("his", "him")
        year = rng.randint(1948, 1996)
        text = (
            f"# {name}\n\n{name} is a {prof} who was born in {year} in the town of {rng.choice(TOWNS)}. "
            f"{pron} studied {rng.choice(SUBJECTS)} at the university of {rng.choice(CITIES)} and later worked for "
            f"{rng.randint(3, 25)} years as a {prof} in {rng.choice(CITIES)}. {fact} Colleagues describe {obj} as patient "
            f"and precise, and {poss} work has appeared in {rng.randint(2, 9)} regional exhibitions. {pron} lives with {poss} "
            f"family near the old market square and spends most evenings reading."
        )
        add(name, prof, text, f"In what year was {name} born?", fact_q, para)
    for kind, fact, fact_q, para in PLACES:
        name = next(names)
        pop = rng.randint(300, 40000)
        city = rng.choice(CITIES)
        text = (
            f"# {name}\n\n{name} is a {kind} in the {rng.choice(REGIONS)} region, about {rng.randint(5, 180)} kilometres from "
            f"{city}. It has a population of {pop:,} and its economy depends on {rng.choice(INDUSTRIES)}. {fact} "
            f"The main street has a post office, two cafes and a small library, and a bus connects it with {city} "
            f"{rng.randint(2, 12)} times a day. Visitors usually stay in one of the guesthouses near the church."
        )
        add(name, kind, text, f"What is the population of {name}?", fact_q, para)
    for kind, fact, fact_q, para in PRODUCTS:
        name = f"{next(names)} {rng.choice('KTXRV')}{rng.randint(2, 9)}"
        brand = next(names)
        price = rng.randint(19, 900)
        c1, c2 = rng.sample(COLORS, 2)
        text = (
            f"# {name}\n\nThe {name} is a {kind} made by {brand}, a manufacturer based in {rng.choice(CITIES)}. It was "
            f"released in {rng.randint(2012, 2024)} and its price is {price} dollars. It weighs {rng.randint(40, 4000)} grams "
            f"and is available in {c1} and {c2}. {fact} Reviewers praised its build quality, and the manufacturer offers "
            f"a {rng.randint(1, 5)}-year warranty with every purchase."
        )
        add(name, kind, text, f"What is the price of the {name} in dollars?", fact_q, para)
    for kind, fact, fact_q, para in ORGS:
        name = f"{next(names)} {kind.capitalize()}" if kind not in ("company", "consultancy") else f"{next(names)} & {next(names)}"
        emp = rng.randint(12, 4000)
        text = (
            f"# {name}\n\n{name} is a {kind} founded in {rng.randint(1890, 2019)} in {rng.choice(CITIES)}. It employs "
            f"{emp:,} people and is run by a board of {rng.randint(3, 11)} directors. {fact} In its most recent annual "
            f"report the {kind} recorded revenue of {rng.randint(1, 900)} million dollars, and it plans to open a second "
            f"site in {rng.choice(CITIES)} next year."
        )
        add(name, kind, text, f"How many people does {name} employ?", fact_q, para)
    for kind, fact, fact_q, para in SHIPS:
        name = f"MV {next(names)}"
        length = rng.randint(18, 290)
        text = (
            f"# {name}\n\nThe {name} is a {kind} launched in {rng.randint(1952, 2021)} at the {rng.choice(YARDS)} shipyard. "
            f"She is {length} metres long, carries a crew of {rng.randint(2, 300)} and is registered in {rng.choice(CITIES)}. "
            f"{fact} The {kind} has been repainted {rng.randint(2, 9)} times and is inspected every spring by the "
            f"maritime authority."
        )
        add(name, kind, text, f"How long is the {name} in metres?", fact_q, para)
    return docs, questions


def shared_terms(docs: list[Doc], questions: list[Question]) -> list[list[str]]:
    """For each question, the query terms (as the index builds them) that also match its answer
    document under the index's own FTS5 tokenizer (porter, unicode61)."""
    import sqlite3

    from onward.retrieval import index

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO t(rowid, text) VALUES (?, ?)", [(i + 1, d.text) for i, d in enumerate(docs)])
    out = []
    for q in questions:
        found = []
        for term in index.query_terms([q.text]):
            if db.execute("SELECT 1 FROM t WHERE rowid = ? AND t MATCH ?", (q.doc + 1, index.fts5_query([term]))).fetchone():
                found.append(term)
        out.append(found)
    db.close()
    return out


if __name__ == "__main__":
    docs, questions = build()
    overlap = shared_terms(docs, questions)
    for q, o in zip(questions, overlap, strict=True):
        if q.style == "paraphrase" and o:
            print(f"{q.text!r} shares {o} with {docs[q.doc].name}")
    print(len(docs), "docs", len(questions), "questions", sum(len(d.text) for d in docs) / len(docs), "chars per doc")
    print(docs[0].text)
