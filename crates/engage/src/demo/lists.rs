//! The lists a demo client is drawn from: first and last names (some not ASCII),
//! IANA time zones weighted towards the US and Europe, style preferences, sizes,
//! budgets and fit notes, how much of a profile is filled in; and drawing from them.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;

pub(super) const FIRST_NAMES: [&str; 50] = [
    "Zoë",
    "José",
    "Chloé",
    "Amélie",
    "Søren",
    "Aoife",
    "Mateo",
    "Léa",
    "Björn",
    "Noémie",
    "Ana",
    "Lucía",
    "Ingrid",
    "Priya",
    "Aisha",
    "Mei",
    "Hana",
    "Olivia",
    "Emma",
    "Liam",
    "Noah",
    "Ava",
    "Sophia",
    "Isabella",
    "Mia",
    "Charlotte",
    "Amara",
    "Kofi",
    "Yuki",
    "Sven",
    "Élodie",
    "François",
    "Małgorzata",
    "Ciarán",
    "Niamh",
    "Jürgen",
    "Renée",
    "Dana",
    "Grace",
    "Ethan",
    "Maya",
    "Leila",
    "Omar",
    "Camila",
    "Valentina",
    "Freya",
    "Astrid",
    "Rosa",
    "Nora",
    "Julia",
];

pub(super) const LAST_NAMES: [&str; 50] = [
    "García",
    "Müller",
    "O'Brien",
    "Nguyen",
    "Kowalski",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Dubois",
    "Rossi",
    "Silva",
    "Kim",
    "Patel",
    "Johansson",
    "Novák",
    "Fernández",
    "López",
    "Martin",
    "Bernard",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Andersen",
    "Nielsen",
    "Murphy",
    "Kelly",
    "Tanaka",
    "Sato",
    "Chen",
    "Wang",
    "Singh",
    "Khan",
    "Okafor",
    "Mensah",
    "Cohen",
    "Levy",
    "Moreau",
    "Lefèvre",
    "Ramírez",
    "Gómez",
    "Jensen",
    "Hansen",
    "Larsen",
    "Ødegaard",
    "Šimić",
    "Yılmaz",
    "Davies",
    "Evans",
];

/// IANA time zones, weighted towards the US and Europe.
pub(super) const TIME_ZONES: [(&str, u32); 28] = [
    ("America/New_York", 16),
    ("America/Chicago", 9),
    ("America/Denver", 4),
    ("America/Los_Angeles", 11),
    ("America/Phoenix", 2),
    ("America/Anchorage", 1),
    ("Pacific/Honolulu", 1),
    ("Europe/London", 9),
    ("Europe/Paris", 6),
    ("Europe/Berlin", 6),
    ("Europe/Madrid", 4),
    ("Europe/Rome", 3),
    ("Europe/Amsterdam", 3),
    ("Europe/Stockholm", 2),
    ("Europe/Dublin", 2),
    ("Europe/Warsaw", 2),
    ("Europe/Lisbon", 1),
    ("Europe/Zurich", 1),
    ("America/Toronto", 3),
    ("America/Vancouver", 2),
    ("America/Mexico_City", 2),
    ("America/Sao_Paulo", 2),
    ("Australia/Sydney", 3),
    ("Asia/Tokyo", 2),
    ("Asia/Singapore", 1),
    ("Asia/Kolkata", 1),
    ("Africa/Johannesburg", 1),
    ("Pacific/Auckland", 1),
];

pub(super) const STYLES: [&str; 14] = [
    "minimal",
    "boho",
    "classic",
    "streetwear",
    "workwear",
    "romantic",
    "sporty",
    "preppy",
    "edgy",
    "casual",
    "vintage",
    "glam",
    "athleisure",
    "coastal",
];
pub(super) const TOP_SIZES: [&str; 6] = ["XS", "S", "M", "L", "XL", "XXL"];
pub(super) const BOTTOM_SIZES: [&str; 10] =
    ["24", "26", "28", "30", "32", "34", "36", "S", "M", "L"];
pub(super) const SHOE_SIZES: [&str; 14] = [
    "5", "6", "6.5", "7", "7.5", "8", "8.5", "9", "10", "11", "EU 37", "EU 38", "EU 40", "EU 42",
];
pub(super) const BUDGETS: [&str; 4] = ["under $50", "$50–$100", "$100–$200", "$200+"];
pub(super) const FIT_NOTES: [&str; 10] = [
    "prefers relaxed fits",
    "petite: shorter inseams please",
    "tall, long sleeves",
    "no wool, sensitive skin",
    "loves high-waisted jeans",
    "avoid horizontal stripes",
    "nothing too tight around the shoulders",
    "machine-washable pieces only",
    "bright colours welcome",
    "neutral palette only",
];

/// Profile parts filled in (out of six), weighted.
pub(super) const PROFILE_PARTS: [(usize, u32); 7] = [
    (0, 12),
    (1, 10),
    (2, 12),
    (3, 14),
    (4, 16),
    (5, 16),
    (6, 20),
];

pub(super) fn weighted<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut at = rng.random_range(0..total);
    for (item, w) in items {
        if at < *w {
            return *item;
        }
        at -= w;
    }
    items[items.len() - 1].0
}

pub(super) fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}
