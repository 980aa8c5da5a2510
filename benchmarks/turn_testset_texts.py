"""What the callers of the held-out turn test sets say (none of it is in the dev set's builder).

A turn with pauses is a list of chunks, each synthesized alone; the caller pauses between them.
"""

from __future__ import annotations

PAUSED: dict[str, list[list[str]]] = {
    "digits": [
        ["My account number is", "four seven two,", "nine one six,", "three three eight five."],
        ["The number to call back is", "eight oh one,", "five five five,", "zero one four two."],
        ["It's", "three one two,", "six four nine,", "seven seven zero one."],
        ["My card ends in", "six,", "two,", "nine,", "one."],
        ["My zip code is", "nine four", "one oh seven."],
        ["The order number is", "one two three four,", "five six seven eight."],
        ["You can try my extension,", "two four", "six nine."],
        ["The tracking number is", "nine four zero zero,", "one one one,", "two zero two."],
        ["My member ID is", "seven seven", "three two", "one eight."],
        ["The PIN they gave me is", "four", "eight", "one", "six."],
        ["Call me on", "oh seven nine one one,", "two three four,", "five six seven."],
        ["My policy number is", "P as in Peter,", "one nine,", "five five two."],
    ],
    "date_time": [
        ["I'd like an appointment on", "the fourteenth of March,", "around", "three in the afternoon."],
        ["My date of birth is", "June", "second,", "nineteen eighty seven."],
        ["We're flying out on", "Tuesday the ninth", "and coming back on the", "sixteenth."],
        ["Can we do", "next Wednesday", "at half past ten?"],
        ["The delivery was supposed to come on", "the twenty first,", "between noon and four."],
        ["I was born on", "the eleventh of", "November,", "two thousand and one."],
        ["Let's say", "Thursday morning,", "maybe nine thirty."],
        ["The reservation is from", "August third", "to August", "seventh."],
        ["The card expires in", "April", "twenty twenty eight."],
        ["I'm free", "any time after", "five fifteen."],
    ],
    "spelling": [
        ["My name is Siobhan,", "that's S, I, O,", "B, H, A, N."],
        ["My email address is", "p dot okafor", "at yahoo", "dot co dot uk."],
        ["It's spelled", "M, C,", "capital D,", "O, N, A, L, D."],
        ["You can write to", "support at", "greenfield hyphen farms", "dot org."],
        ["The reference is", "Q, seven,", "R, two,", "Z."],
        ["My surname is Nguyen,", "N, G,", "U, Y, E, N."],
        ["Please use", "maria dot", "gonzalez eighty four", "at hotmail dot com."],
        ["The street is spelled", "W, O, R, C,", "E, S, T, E, R."],
        ["My username is", "dave underscore", "R,", "one nine."],
        ["It's", "T as in Tom,", "H as in Harry,", "O, M, P, S, O, N."],
        ["The voucher code is", "spring,", "two zero,", "save."],
        ["My work email is", "j dot", "patel at", "northwind dot io."],
    ],
    "continuation": [
        ["I called yesterday and", "they said someone would call me back."],
        ["I ordered a blue jacket but", "what arrived was green."],
        ["The heating stopped working last night so", "we had to sleep at my sister's."],
        ["I've been a customer for ten years and", "this is the first time I've had a problem."],
        ["When I tried to log in this morning", "it told me my account was locked."],
        ["I paid the bill on Monday, but", "it still shows as overdue."],
        ["My daughter starts school in September, so", "I need to change the pickup time."],
        ["If the part isn't in stock", "could you order it for me?"],
        ["The technician came on Friday and", "he said the router needs replacing."],
        ["I moved house last month, and", "I never got the letter you sent."],
        ["Because my flight was delayed", "I missed the connection in Frankfurt."],
        ["I spoke to a woman called Helen, and", "she promised me a refund."],
        ["Ever since the update", "the app keeps crashing when I open it."],
        ["Before you transfer me,", "can you tell me who I'll be speaking to?"],
    ],
    "hesitation": [
        ["I'd like to, um,", "change my address."],
        ["So I was, uh,", "wondering if you could", "help me with a booking."],
        ["Could I, um,", "let me think,", "move it to the afternoon?"],
        ["It's about my, uh,", "my prescription."],
        ["Well, I guess", "I'd want the, um,", "the bigger one."],
        ["The problem is, er,", "the screen goes black."],
        ["I think it was, um,", "around lunchtime."],
        ["Yeah, so, uh,", "I need to speak to someone about", "my pension."],
        ["Hmm, let me see,", "it says here", "the balance is zero."],
        ["I'm calling because, um,", "well, it's a bit complicated."],
        ["Can you, uh,", "hold on a second,", "can you repeat the price?"],
        ["I want to, um,", "upgrade my plan, I think."],
        ["It's the, er,", "the one on Baker Street."],
        ["Let me just", "find my glasses,", "okay, here it is."],
    ],
    "list": [
        ["I need milk,", "bread,", "and a dozen eggs."],
        ["The kids are", "Emma,", "Jack,", "and little Sophie."],
        ["I'd like the soup,", "the chicken salad,", "and a lemonade."],
        ["We need it for", "Monday, Tuesday,", "and possibly Wednesday."],
        ["Could you check the kitchen,", "the bathroom,", "and the garage?"],
        ["I've got a sofa,", "two armchairs,", "a bed", "and about twenty boxes."],
        ["Add", "a charger,", "a case", "and a screen protector."],
        ["Red,", "blue,", "or black would all be fine."],
        ["It hurts in my knee,", "my ankle,", "and sometimes my hip."],
        ["My options are", "the early train,", "the late bus,", "or driving."],
    ],
    "address_amount": [
        ["The address is", "forty two", "Elm Grove,", "Bristol."],
        ["I live at", "flat three,", "one hundred and six", "Victoria Road."],
        ["I was charged", "seventy nine", "pounds and", "ninety nine pence."],
        ["The postcode is", "S W one,", "A, two,", "A, A."],
        ["I'd like to transfer", "one thousand", "two hundred", "dollars."],
        ["Ship it to", "eighteen", "Maple Avenue,", "apartment four B."],
        ["It comes to", "thirty six", "fifty."],
        ["We're at", "two twenty", "Harbor Drive,", "suite one hundred."],
    ],
}

COMPLETE: dict[str, list[str]] = {
    "short": [
        "Thanks.", "No.", "Yes.", "That's all.", "Nope.", "Okay, thank you.", "Perfect.",
        "That's right.", "Not really.", "Goodbye.", "Yes, please.", "No, that's fine.", "Correct.",
    ],
    "apology": [
        "Sorry, I didn't catch that.", "Sorry, could you say that again?",
        "I'm sorry, I was on the other line.", "Pardon?", "Sorry, my mistake.",
    ],
    "question": [
        "How long will it take?", "Do you deliver on weekends?", "Is there a fee for that?",
        "What's the earliest you have?", "Can I pay by card?", "Who am I speaking to?",
    ],
    "statement": [
        "I'd like to speak to a manager.", "My internet has been down since this morning.",
        "I need to reschedule my appointment.", "That's everything, thanks for your help.",
        "I'll call back later.", "The package never arrived.", "Just the one, please.",
        "I'm calling about my bill.",
    ],
}  # fmt: skip

COMMANDS = ["Stop.", "Wait.", "No.", "Hold on.", "Stop, please.", "Wait a second.", "Hang on.", "Excuse me."]
INTERRUPTIONS = [
    "Actually, I need to change the date.",
    "That's not my account number.",
    "Can I just ask something?",
    "No, I said Thursday, not Tuesday.",
    "Sorry to interrupt, but I'm in a hurry.",
    "I already tried that.",
    "Let me speak to a person, please.",
    "Hang on, that's the wrong address.",
]
BACKCHANNELS = ["Mm-hmm.", "Uh-huh.", "Yeah.", "Right.", "Okay.", "I see.", "Yep.", "Mhm, okay."]
SPOKEN = {"Mm-hmm.": "Mmm hmm.", "Mhm, okay.": "Mmm hmm, okay."}
"""How a backchannel is written for the synthesizers (flite and festival spell "Mm-hmm" out as
letters; "Mmm hmm" comes out as a hum from most of them)."""

BABBLE = [
    "The weather was lovely on the coast all week.",
    "He said the meeting would run late again.",
    "We should pick up some groceries on the way home.",
    "Did you see the match last night?",
    "The new office is just across the river.",
    "She has been learning the piano since spring.",
    "They painted the kitchen a pale shade of yellow.",
    "I think the train leaves at a quarter past.",
    "Nobody remembered to water the plants.",
    "The children were playing outside until dark.",
    "It took ages to find a parking space.",
    "My brother is visiting from Toronto next month.",
]
