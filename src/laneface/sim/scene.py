"""Vehicles, seats and occupants of a simulated passage (no pixels here: only sampled parameters).

Seats are named ``<row><side>``: rows 1-3 from the front, sides ``L`` (the vehicle's left, the driver in a
left-hand-drive vehicle), ``M`` and ``R``. A seat's world position follows :mod:`.geometry`: ``x`` is
positive towards the vehicle's right, ``z`` grows towards the rear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DECOY_KINDS",
    "VEHICLES",
    "Decoy",
    "Occupant",
    "PassageScene",
    "VehicleType",
    "plant_decoys",
    "sample_occupant_count",
    "sample_scene",
]

SEAT_X = {"L": -0.38, "M": 0.0, "R": 0.38}
ROW_DZ = {1: 1.0, 2: 1.9, 3: 2.75}  # face position behind the windshield base, metres


@dataclass(frozen=True)
class VehicleType:
    name: str
    rows: tuple[tuple[str, ...], ...]  # seats per row, front first
    face_height_m: float  # height of a seated adult's eyes above the road

    @property
    def capacity(self) -> int:
        return sum(len(r) for r in self.rows)


VEHICLES: tuple[VehicleType, ...] = (
    VehicleType("pickup", (("L", "R"),), 1.55),
    VehicleType("crew-cab-pickup", (("L", "R"), ("L", "M", "R")), 1.55),
    VehicleType("sedan", (("L", "R"), ("L", "M", "R")), 1.15),
    VehicleType("suv", (("L", "R"), ("L", "M", "R"), ("L", "R")), 1.38),
    VehicleType("minivan", (("L", "R"), ("L", "M", "R"), ("L", "M", "R")), 1.42),
)


@dataclass(frozen=True)
class Occupant:
    """One person in a seat, with what they wear and how they move during the passage."""

    occupant_id: int
    identity: str
    image: str  # LFW source image of the face rendered (relative to the LFW root)
    doc_id: str
    row: int
    seat: str  # e.g. "1L"
    x_m: float
    dz_m: float  # behind the windshield base
    dh_m: float  # sitting height relative to the vehicle's face height
    yaw_deg: tuple[float, float]  # head yaw at the start and at the end of the passage (facing the vehicle's front)
    yaw_turn_at: float  # share of the passage at which the head turns from the first to the second yaw
    pitch_deg: float  # head pitch when not looking down; negative = down
    roll_deg: float
    sunglasses: bool  # worn when the passage starts
    hat: bool
    hand: tuple[float, float] | None  # share of the passage during which a hand covers part of the face
    skin_rgb: tuple[int, int, int]
    shirt_rgb: tuple[int, int, int]
    # share of the passage during which the head is bowed (phone, lap) by ``down_deg`` more; (0, 1) = all along
    down: tuple[float, float] | None = None
    down_deg: float = 0.0
    # share of the passage at which sunglasses come off (the lane's signs ask for it); None = kept on
    sunglasses_off_at: float | None = None

    def pitch_at(self, t: float) -> float:
        """Head pitch (degrees) at time share ``t`` of the passage."""
        if self.down is not None and self.down[0] <= t <= self.down[1]:
            return self.pitch_deg + self.down_deg
        return self.pitch_deg

    def sunglasses_at(self, t: float) -> bool:
        return self.sunglasses and (self.sunglasses_off_at is None or t < self.sunglasses_off_at)

    def hand_at(self, t: float) -> bool:
        return self.hand is not None and self.hand[0] <= t <= self.hand[1]


DECOY_KINDS = ("shirt", "photo", "phone", "sticker", "dog", "cat")
PRINTED_KINDS = ("shirt", "photo", "phone", "sticker")
PET_KINDS = ("dog", "cat")


@dataclass(frozen=True)
class Decoy:
    """A face that is not a traveller's: a print on an occupant's shirt, a photo or a phone screen an
    occupant holds up, a sticker inside the windshield (printed faces of other people), or a dog or cat
    on an empty seat.

    ``offset_m`` places its face's centre: from its holder's eyes (shirt, photo, phone: it moves rigidly
    with the holder's body), from the windshield base's centre (sticker: fixed to the vehicle), or from the
    seat's eye position (pet). A printed face lies in a plane facing the vehicle's front; a pet's head
    faces each camera.
    """

    decoy_id: int
    kind: str  # one of DECOY_KINDS
    size_m: float  # width of the face (a pet's head)
    offset_m: tuple[float, float, float]
    holder: int | None = None  # occupant id (shirt, photo, phone)
    image: str | None = None  # LFW image printed (relative to the LFW root); None for a pet
    seat: str | None = None  # a pet's seat
    colour_rgb: tuple[int, int, int] = (120, 100, 80)  # a pet's fur

    @property
    def printed(self) -> bool:
        return self.kind in PRINTED_KINDS


@dataclass(frozen=True)
class PassageScene:
    passage_id: str
    lane: str
    direction: str  # "inbound" | "outbound"
    started_at: str
    vehicle: VehicleType
    occupants: tuple[Occupant, ...]
    documents: tuple[str, ...]
    night: bool
    frames: int
    fps: float
    lane_offset_m: float
    z_start_m: float
    z_stop_m: float
    visors_down: tuple[str, ...]  # seats of row 1 whose sun visor is lowered
    body_rgb: tuple[int, int, int]
    # share of the passage during which the vehicle approaches (decelerating to ``z_stop_m``); it stands after
    approach_share: float = 0.6
    # shares of the passage during which the vehicle stands in a queue (sorted, disjoint; stop-and-go)
    pauses: tuple[tuple[float, float], ...] = ()
    # drives from ``z_start_m`` to ``z_stop_m`` at a constant speed (a drive-through), not decelerating
    constant_speed: bool = False
    decoys: tuple[Decoy, ...] = ()  # printed faces and pets (:func:`plant_decoys`)

    @property
    def seconds(self) -> float:
        """Length of the passage's videos."""
        return self.frames / self.fps


def sample_occupant_count(rng: np.random.Generator, capacity: int) -> int:
    """1-7 occupants, mostly 1-3, never more than the vehicle holds."""
    weights = np.array([0.22, 0.24, 0.17, 0.15, 0.1, 0.07, 0.05])[: min(capacity, 7)]
    return int(rng.choice(np.arange(1, len(weights) + 1), p=weights / weights.sum()))


def _seats(rng: np.random.Generator, vehicle: VehicleType, count: int) -> list[tuple[int, str]]:
    """The driver's seat first, then a random choice of the other seats (front passenger more likely)."""
    others = [(r + 1, s) for r, row in enumerate(vehicle.rows) for s in row if (r + 1, s) != (1, "L")]
    weights = np.array([3.0 if r == 1 else (1.0 if s != "M" else 0.5) for r, s in others])
    if count <= 1:
        return [(1, "L")]
    picked = rng.choice(len(others), size=count - 1, replace=False, p=weights / weights.sum())
    return [(1, "L"), *[others[int(i)] for i in picked]]


def _yaw_pair(rng: np.random.Generator) -> tuple[float, float]:
    kind = rng.random()
    if kind < 0.45:  # looks ahead, small movements
        return float(rng.normal(0, 8)), float(rng.normal(0, 8))
    if kind < 0.75:  # talks to a neighbour, then looks ahead (or the reverse)
        side = float(rng.choice([-1.0, 1.0]))
        turned = side * float(rng.uniform(30, 70))
        ahead = float(rng.normal(0, 8))
        return (turned, ahead) if rng.random() < 0.6 else (ahead, turned)
    side = float(rng.choice([-1.0, 1.0]))  # looks out of a side window for most of the passage
    return side * float(rng.uniform(25, 60)), side * float(rng.uniform(15, 60))


def sample_occupant(
    rng: np.random.Generator,
    occupant_id: int,
    identity: str,
    image: str,
    doc_id: str,
    row: int,
    side: str,
    night: bool,
) -> Occupant:
    skin = rng.choice([[224, 187, 160], [198, 150, 118], [160, 112, 80], [112, 74, 52], [235, 200, 180]])
    hand_start = float(rng.uniform(0, 0.7))
    down: tuple[float, float] | None = None
    if rng.random() < 0.15:  # looks at a phone or the lap: mostly for a while, a few all along
        a = float(rng.uniform(0, 0.7))
        down = (0.0, 1.0) if rng.random() < 0.25 else (a, a + float(rng.uniform(0.2, 0.5)))
    sunglasses = (not night) and rng.random() < 0.12
    return Occupant(
        occupant_id=occupant_id,
        identity=identity,
        image=image,
        doc_id=doc_id,
        row=row,
        seat=f"{row}{side}",
        x_m=SEAT_X[side] + float(rng.normal(0, 0.04)),
        dz_m=ROW_DZ[row] + float(rng.normal(0, 0.05)),
        dh_m=float(rng.normal(0, 0.05)) - (0.08 if row > 1 and rng.random() < 0.2 else 0.0),
        yaw_deg=_yaw_pair(rng),
        yaw_turn_at=float(rng.uniform(0.2, 0.8)),
        pitch_deg=float(rng.normal(0, 5)),
        roll_deg=float(rng.normal(0, 5)),
        sunglasses=sunglasses,
        hat=rng.random() < 0.1,
        hand=(hand_start, hand_start + float(rng.uniform(0.15, 0.4))) if rng.random() < 0.12 else None,
        skin_rgb=(int(skin[0]), int(skin[1]), int(skin[2])),
        shirt_rgb=tuple(int(v) for v in rng.integers(20, 230, size=3)),  # type: ignore[arg-type]
        down=down,
        down_deg=float(rng.uniform(-40, -20)) if down is not None else 0.0,
        # most travellers obey the lane's signs and take sunglasses off while they approach; some do not
        sunglasses_off_at=float(rng.uniform(0.05, 0.6)) if sunglasses and rng.random() < 0.7 else None,
    )


def sample_scene(
    rng: np.random.Generator,
    passage_id: str,
    people: list[tuple[str, str, str]],
    *,
    started_at: str,
    night: bool,
    inbound: bool,
) -> PassageScene:
    """A passage whose occupants are the first people of ``people`` (identity, image, doc_id), driver first.

    The vehicle type is drawn first, then an occupant count that fits its seats (1-7), so ``people`` must
    hold at least 7 distinct people; the caller learns how many travelled from ``len(scene.occupants)``.
    """
    vehicle = VEHICLES[int(rng.integers(0, len(VEHICLES)))]
    count = sample_occupant_count(rng, vehicle.capacity)
    seats = _seats(rng, vehicle, count)
    occupants = tuple(
        sample_occupant(rng, i, people[i][0], people[i][1], people[i][2], row, side, night)
        for i, (row, side) in enumerate(seats)
    )
    documents: tuple[str, ...] = ()
    if inbound:
        read = [o.doc_id for o in occupants if rng.random() > 0.08]  # a document is sometimes not read
        documents = tuple(read[i] for i in rng.permutation(len(read)))
    frames = int(rng.integers(30, 46))  # 3.0-4.5 s at 10 fps: the approach, then the stop at the booth
    return PassageScene(
        passage_id=passage_id,
        lane=f"lane-{int(rng.integers(1, 5))}",
        direction="inbound" if inbound else "outbound",
        started_at=started_at,
        vehicle=vehicle,
        occupants=occupants,
        documents=documents,
        night=night,
        frames=frames,
        fps=10.0,
        lane_offset_m=float(rng.normal(0, 0.15)),
        z_start_m=float(rng.uniform(6.5, 8.5)),
        z_stop_m=float(rng.uniform(2.2, 3.6)),
        visors_down=tuple(s for s in ("1L", "1R") if (not night) and rng.random() < 0.2),
        body_rgb=_body_colour(rng),
    )


def _body_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    palette = [[235, 235, 235], [20, 20, 22], [130, 132, 135], [190, 190, 195], [140, 20, 25], [25, 50, 120]]
    c = np.clip(np.asarray(palette[int(rng.integers(0, len(palette)))]) + rng.integers(-12, 13, size=3), 0, 255)
    return (int(c[0]), int(c[1]), int(c[2]))


def plant_decoys(rng: np.random.Generator, scene: PassageScene, share: float, images: list[str]) -> PassageScene:
    """``scene`` with, in a share ``share`` of vehicles, one decoy (a fifth of those get a second): a
    printed face (shirt, photo, phone, sticker; its image drawn from ``images``, LFW paths) or a pet on a
    seat nobody sits in (a printed face when every seat is taken)."""
    from dataclasses import replace

    if share <= 0.0 or rng.random() >= share:
        return scene
    count = 2 if rng.random() < 0.2 else 1
    taken = {o.seat for o in scene.occupants}
    free = [
        f"{r + 1}{side}" for r, row in enumerate(scene.vehicle.rows) for side in row if f"{r + 1}{side}" not in taken
    ]
    decoys: list[Decoy] = []
    for k in range(count):
        kind = str(rng.choice(DECOY_KINDS, p=[0.3, 0.15, 0.15, 0.15, 0.125, 0.125]))
        if kind in PET_KINDS and not free:
            kind = "shirt"
        holder = scene.occupants[int(rng.integers(0, len(scene.occupants)))]
        image = images[int(rng.integers(0, len(images)))]
        side = 1.0 if rng.random() < 0.5 else -1.0
        if kind == "shirt":  # a life-size face printed on the chest
            d = Decoy(
                k,
                kind,
                float(rng.uniform(0.12, 0.2)),
                (float(rng.normal(0, 0.02)), -0.3, -0.12),
                holder.occupant_id,
                image,
            )
        elif kind == "photo":  # held up beside the face, towards the windshield
            off = (side * float(rng.uniform(0.12, 0.2)), float(rng.uniform(-0.2, 0.02)), -0.3)
            d = Decoy(k, kind, float(rng.uniform(0.05, 0.09)), off, holder.occupant_id, image)
        elif kind == "phone":  # a video call or a picture shown on a screen
            off = (side * float(rng.uniform(0.05, 0.15)), float(rng.uniform(-0.3, -0.1)), -0.32)
            d = Decoy(k, kind, float(rng.uniform(0.035, 0.05)), off, holder.occupant_id, image)
        elif kind == "sticker":  # inside the windshield, in a lower corner
            t = float(rng.uniform(0.08, 0.3))  # up the glass from its base (0.54 m up, 0.55 m back)
            off = (side * float(rng.uniform(0.35, 0.6)), 0.54 * t, 0.55 * t - 0.01)
            d = Decoy(k, kind, float(rng.uniform(0.04, 0.1)), off, None, image)
        else:
            seat = free.pop(int(rng.integers(0, len(free))))
            size = float(rng.uniform(0.1, 0.14)) if kind == "cat" else float(rng.uniform(0.14, 0.22))
            fur = rng.choice([[230, 225, 215], [40, 35, 30], [150, 100, 55], [120, 120, 120], [200, 160, 110]])
            off = (float(rng.normal(0, 0.04)), float(rng.uniform(-0.3, -0.12)), float(rng.normal(0, 0.05)))
            colour = (int(fur[0]), int(fur[1]), int(fur[2]))
            d = Decoy(k, kind, size, off, None, None, seat, colour)
        decoys.append(d)
    return replace(scene, decoys=tuple(decoys))
