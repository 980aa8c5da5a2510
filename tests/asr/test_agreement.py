"""LocalAgreement: what gets committed, and that committed words never change."""

from __future__ import annotations

from cascade.asr.agreement import (
    LocalAgreement,
    after_context,
    context_end,
    drop_loops,
    drop_unplaced_tail,
    join,
    normalize,
)
from cascade.frames import Word


def words(text: str, start: float = 0.0, step: float = 0.3) -> list[Word]:
    return [
        Word(text=t, start=start + i * step, end=start + (i + 1) * step) for i, t in enumerate(text.split())
    ]


def test_normalize_ignores_case_and_punctuation() -> None:
    assert normalize("Hello,") == normalize("hello") == "hello"
    assert normalize("don't") == "don't"


def test_commits_the_prefix_two_hypotheses_agree_on() -> None:
    agreement = LocalAgreement()
    assert agreement.update(words("the cat")) == []
    assert join(agreement.update(words("The cat sat on"))) == "The cat"
    assert join(agreement.pending) == "sat on"
    assert join(agreement.update(words("the cat sat in the"))) == "sat"
    assert join(agreement.committed) == "The cat sat"


def test_committed_words_are_never_rewritten() -> None:
    agreement = LocalAgreement()
    agreement.update(words("a b c"))
    agreement.update(words("a b c d"))
    before = list(agreement.committed)
    # the model changes its mind about committed words: they stay, only the tail is considered
    agreement.update(words("x y z d e"))
    assert agreement.committed[: len(before)] == before
    final = agreement.finalize(words("x y z d e f"))
    assert final[: len(before)] == before
    assert join(final).startswith("a b c")


def test_overlap_with_committed_words_is_removed_by_text() -> None:
    agreement = LocalAgreement()
    agreement.update(words("one two three"))
    agreement.update(words("one two three four"))
    # timings jittered so the last committed word looks new by time
    shifted = [Word(text="three", start=0.8, end=1.0), *words("four five", start=1.0)]
    assert [w.text for w in agreement.tail(shifted)] == ["four", "five"]


def test_force_commit_takes_pending_prefix_until_time() -> None:
    agreement = LocalAgreement()
    agreement.update(words("a b c d"))
    assert join(agreement.force_commit(0.65)) == "a b"
    assert join(agreement.pending) == "c d"


def test_a_word_split_differently_is_not_repeated() -> None:
    agreement = LocalAgreement()
    agreement.update(words("goodbye thank"))
    agreement.update(words("goodbye thank you"))
    assert join(agreement.committed) == "goodbye thank"
    # the final decode splits the committed words differently, its timings jitter past the end
    again = [Word(text="good", start=0.0, end=0.2), *words("bye thank you for", start=0.5)]
    assert join(agreement.finalize(again)) == "goodbye thank you for"


def test_a_real_repetition_later_is_kept() -> None:
    agreement = LocalAgreement()
    agreement.update(words("no"))
    agreement.update(words("no no"))
    assert join(agreement.committed) == "no"
    assert join(agreement.finalize(words("no no", step=0.8))) == "no no"


def test_a_word_said_again_in_the_next_segment_is_kept() -> None:
    agreement = LocalAgreement(words("five", start=1.0))  # "five, five": two segments
    assert join(agreement.finalize(words("five", start=1.5))) == "five"


def test_a_copy_of_the_previous_segments_end_is_dropped() -> None:
    before = words("seven or nine to decrease or increase your volume", start=15.0)  # ends at 17.7
    agreement = LocalAgreement(before)
    # Whisper repeats the end of its prompt (the previous final) before the new words
    copied = words("nine to decrease or increase your volume or eight for more options", start=18.0)
    assert join(agreement.finalize(copied)) == "or eight for more options"
    later = LocalAgreement(before)  # a second later it is what the caller said again
    assert join(later.finalize(words("your volume please", start=19.0))) == "your volume please"


def test_a_short_word_under_a_stretched_committed_word_is_kept() -> None:
    agreement = LocalAgreement()
    # "menu" was the last word of its decodes: Whisper stretched it to the end of their audio
    agreement.update([*words("exit this", start=4.4), Word(text="menu", start=5.0, end=5.6)])
    agreement.update([*words("exit this", start=4.4), Word(text="menu", start=5.0, end=5.7)])
    assert join(agreement.committed) == "exit this menu"
    # a longer decode puts "menu" where it was said and "and" right after it
    later = [*words("exit this", start=4.4), *words("menu and return", start=5.0, step=0.2)]
    assert join(agreement.tail(later)) == "and return"


def test_context_end_aligns_words_decoded_again() -> None:
    again = words("four or six", start=10.0)  # the previous final, ends at 10.9
    # decoded again as context: "six" stretched into the pause past the segment start
    stretched = [*words("four or", start=10.0), Word(text="six", start=10.6, end=11.5)]
    assert context_end([*stretched, *words("to decrease", start=11.5)], again, 11.1) == 3
    joined = words("now and forevermore", start=3.0)
    split = words("now and forever more dial three", start=3.0)
    assert split[context_end(split, joined, 3.95)].text == "dial"
    # the context words are missing from the hypothesis: nothing is dropped, not even a new
    # word that resembles one of them
    assert context_end(words("send them", start=11.0), again, 10.95) == 0
    busy = words("Press 2 to record your busy message.", start=3.9)
    assert context_end(words("Press 3 to record", start=6.5), busy, 6.34) == 0


def test_a_decoding_loop_is_dropped_but_repeated_words_stay() -> None:
    looped = "is recording. Press 2 to listen to it. Press 2 to listen to it. Press 2 to listen to"
    assert join(drop_loops(words(looped))) == "is recording. Press 2 to listen to it."
    assert join(drop_loops(words("4 or 6. 4 or 6."))) == "4 or 6."
    whole = "9 to decrease or increase your volume or 8 to exit this menu and return to the conference."
    assert join(drop_loops(words(f"{whole} {whole}"))) == whole
    for speech in ("no no no no no no", "press one to record press two to record", "it it it"):
        assert join(drop_loops(words(speech))) == speech


def test_the_committed_end_said_again_right_after_it_is_dropped() -> None:
    agreement = LocalAgreement()
    agreement.update(words("press five to change your"))
    agreement.update(words("press five to change your pass"))
    assert join(agreement.committed) == "press five to change your"
    # a later hypothesis (its window trimmed) repeats the committed end, moved later in time
    again = words("to change your password", start=1.6)
    assert join(agreement.finalize(again)) == "press five to change your password"


def test_a_number_written_as_digits_or_words_is_the_same_word() -> None:
    assert normalize("6.") == normalize("six") == "six"
    assert normalize("20") == "twenty" and normalize("1999") == "1999"
    # the previous final said "six"; the next decode writes the same audio as "6"
    again = words("four or six", start=9.0)
    assert context_end(words("6 to decrease", start=9.6), again, 9.88) == 1


def test_words_a_decode_could_not_place_at_its_end_are_dropped() -> None:
    heard = words("eight for more options", start=20.0)
    invented = [Word(text=t, start=21.2, end=21.2) for t in ["nine", "to", "decrease"]]
    assert drop_unplaced_tail([*heard, *invented]) == heard
    # one short last word may be real (cut by the window); short words inside stay
    cut = Word(text="options", start=21.2, end=21.2)
    assert drop_unplaced_tail([*heard[:3], cut]) == [*heard[:3], cut]
    inside = [Word(text="To", start=7.1, end=7.1), *words("eject the user", start=7.1)]
    assert drop_unplaced_tail(inside) == inside


def test_context_garbled_and_said_again_is_not_the_segments_words() -> None:
    # a real tiny.en decode of the context (ends 10.98) and of the first 0.7 s of a new
    # segment (from 11.04): it garbled the context, copied its text at one instant, then said
    # the context again ("reading" for "greeting"); none of it is the segment's
    def timed(spec: str) -> list[Word]:
        out = []
        for item in spec.split():
            text, _, span = item.partition("@")
            start, _, end = span.partition("-")
            out.append(Word(text=text, start=float(start), end=float(end)))
        return out

    again = timed(
        "Press@3.28-3.60 2@3.60-4.02 to@4.02-4.28 record@4.28-4.50 your@4.50-4.84 busy@4.88-5.06 "
        "message.@5.06-5.56 Press@6.50-6.50 3@6.50-6.94 to@6.94-7.20 record@7.20-7.36 your@7.36-7.64 "
        "name.@7.64-8.00 Press@8.50-8.82 4@8.82-9.24 to@9.24-9.52 record@9.52-9.74 your@9.74-10.34 "
        "temporary@10.08-10.44 greeting.@10.44-10.98"
    )
    garbled = timed(
        "Press@3.18-3.34 3@3.34-5.04 to@5.04-5.12 record@5.12-5.12 your@5.12-5.12 name.@5.12-5.52 "
        "Press@5.52-5.52 4@5.52-5.52 to@5.52-5.52 record@5.52-5.52 your@5.52-5.52 "
        "temporary@5.52-5.52 greeting.@5.52-5.52 Press@5.52-5.52 3.@5.52-5.86 Press@6.08-6.54 "
        "3@6.54-6.76 to@6.76-7.08 record@7.08-7.36 your@7.36-8.22 name.@8.22-8.22 Press@8.56-8.80 "
        "4@8.80-9.24 to@9.24-9.50 record@9.50-9.74 your@9.74-10.38 temporary@10.38-10.38 "
        "reading.@10.38-11.00"
    )
    assert context_end(garbled, again, 11.04) < len(garbled)  # the alignment alone keeps some
    assert after_context(garbled, again, 11.04) == []
    assert (
        join(after_context([*garbled, *timed("Press@11.30-11.60 5@11.60-11.90")], again, 11.04)) == "Press 5"
    )
    # a segment word whose time Whisper puts a little early still counts (the pre-roll is slack)
    early = [*again, *timed("or@10.90-11.10 5@11.10-11.40")]
    assert join(after_context(early, again, 11.04)) == "or 5"
