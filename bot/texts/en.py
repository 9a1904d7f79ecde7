"""English texts. Keys and ``{placeholders}`` must match ``zh.py`` exactly (a test checks).

Texts are plain: the caller escapes the finished string for the platform's markup
(``bot.status.render_text``), so no template contains markup of its own.
``{resets}`` and ``{at}`` are formatted date-times ("2025-03-01 00:00 UTC"), ``{elapsed}``
and ``{eta}`` durations ("1:05").
"""

from __future__ import annotations

from typing import Final

TEXTS: Final[dict[str, str]] = {
    # ------------------------------------------------------------------ input errors
    "empty_prompt": "Tell me what to film: /sora a cat surfing at sunset",
    "prompt_too_long": "That prompt is {length} characters long; the limit is {limit}.",
    "unknown_model": "There is no model “{model}” here. Available: {allowed}.",
    "bad_seconds": "{model} can’t make {seconds}-second videos. Pick one of: {allowed}.",
    "bad_orientation": "{model} doesn’t do {orientation} videos. It can do: {allowed}.",
    "unknown_orientation": "“{orientation}” isn’t an orientation I know. Use one of: {allowed}.",
    "image_not_supported": "The provider {provider} can’t start a video from an image.",
    "image_needs_url": (
        "The provider {provider} only takes images by public URL, and this attachment "
        "doesn’t have one. Leave the image out, or pick another provider with --provider."
    ),
    "image_needs_file": (
        "The provider {provider} needs the image as a file upload; a link alone won’t do. "
        "Attach the image itself."
    ),
    "image_unreadable": "I couldn’t read that image. Please send a JPEG, PNG or WebP.",
    "image_too_large": "That image is too large. Please send a smaller one.",
    "remix_not_supported": "The provider {provider} can’t change an existing video.",
    "unknown_provider": "There is no provider “{provider}”. Available: {allowed}.",
    "ambiguous_provider": (
        "Several providers serve {model}: {allowed}. Choose one with --provider NAME."
    ),
    "bad_number": "“{value}” isn’t a valid number for {flag}.",
    "unknown_flag": (
        "I don’t know the option {flag}. If your prompt starts with a dash, put -- before it. "
        "See /help."
    ),
    "missing_value": "{flag} needs a value.",
    "unknown_quota_action": "“{action}” isn’t a /quota command. See /help.",
    "not_a_job": "That message isn’t one of my videos, so there’s nothing to change.",
    "parent_not_ready": "That video isn’t finished yet: reply to it again once it is posted.",
    "quota_exceeded": (
        "Not enough credits: this needs {cost} and you have {remaining} left. "
        "Credits refill at {resets}."
    ),
    "too_many_jobs": (
        "You already have {limit} videos on the way. Wait for one to finish, then try again."
    ),
    "not_moderator": "Only moderators can do that.",
    "unknown_user": "I can’t find the user {user}.",
    "missing_target": "Who do you mean? Name a user, or reply to one of their messages.",
    "no_providers": "No video provider is available right now. Please try again later.",
    "shutting_down": "I’m restarting. Please try again in a minute.",
    "unknown_command": "I don’t know the command /{command}. See /help.",
    # ------------------------------------------------------------------ provider failures
    "failed.auth": (
        "The video service is misconfigured on our side. The moderators have been told."
    ),
    "failed.balance": "The video service has run out of credit. Please try again later.",
    "failed.model_unavailable": "The model {model} isn’t available right now.",
    "failed.rate_limited": "The video service is busy. Please try again in a few minutes.",
    "failed.bad_request": "The video service rejected the request: {message}",
    "failed.content_policy": "The video service declined this prompt: {message}",
    "failed.transient": "The video service had a problem: {message}",
    "failed.generation_failed": "The video could not be generated: {message}",
    "failed.expired": "The finished video expired before I could fetch it.",
    "failed.timeout": "No video after {minutes} minutes, so I stopped waiting.",
    "failed.interrupted": (
        "The bot restarted while this video was being made, and the job could not be resumed."
    ),
    "failed.provider_gone": "The video service for this job is no longer configured.",
    "failed.undeliverable": "The video was made but could not be posted here: {message}",
    "failed.upload_unknown": (
        "The platform never answered the upload, so the video may or may not be above. "
        "It was not sent again, to avoid a duplicate."
    ),
    "failed.cancelled": "An operator cancelled this job.",
    "refunded": "Your {cost} credit(s) have been refunded.",
    "not_refunded": "This attempt still counts against your credits.",
    "task_id": "Task id: {task_id}",
    "unified_remix_note": (
        "This provider can’t edit a video, so a new one is made from the original prompt "
        "plus your change."
    ),
    "accepted": "Got it! Your video is on its way (job {job}).",
    # ------------------------------------------------------------------ status
    "phase.queued": "Waiting in line (#{position})",
    "phase.queued_unknown": "Waiting in line",
    "phase.submitting": "Sending the request",
    "phase.generating": "Generating",
    "phase.downloading": "Downloading the video",
    "phase.fitting": "Shrinking the video to fit the upload limit",
    "phase.uploading": "Uploading",
    "phase.done": "Done!",
    "phase.failed": "Failed. {reason}",
    "status.details": "{model} · {seconds}s · {orientation}",
    "status.elapsed": "{elapsed} elapsed",
    "status.took": "took {elapsed}",
    "status.eta": "about {eta} left",
    "orientation.portrait": "portrait",
    "orientation.landscape": "landscape",
    # ------------------------------------------------------------------ delivery
    "caption": "{prompt}\n{model} · {seconds}s · {remaining} credits left",
    "caption_unlimited": "{prompt}\n{model} · {seconds}s",
    "oversize_link": (
        "The video is larger than the {limit_mb} MB upload limit here. "
        "Download it instead (the link expires {expires}): {url}"
    ),
    "oversize_no_link": (
        "The video is larger than the {limit_mb} MB upload limit here, "
        "and I couldn’t shrink it enough. Sorry!"
    ),
    "button.remix": "Remix",
    "button.again": "Again",
    "remix_prompt": "What should change? Reply to this message (or to the video) with your change.",
    "remix.modal_title": "Remix this video",
    "remix.modal_label": "What should change?",
    "remix.modal_placeholder": "make it night time, add rain…",
    # ------------------------------------------------------------------ quota
    "quota.me": (
        "You have {remaining} of {limit} credits left ({used} used, {granted} extra). "
        "They refill at {resets}."
    ),
    "quota.unlimited": "You have unlimited credits.",
    "quota.show": (
        "{user}: {remaining} of {limit} credits left ({used} used, {granted} extra). "
        "Refill at {resets}."
    ),
    "quota.set_done": "{user} now has a limit of {limit} credits.",
    "quota.add_done": "Gave {user} {amount} extra credit(s); {remaining} left now.",
    "quota.reset_done": "Reset {user}’s credits for this period.",
    "quota.default_done": "Everyone’s default limit is now {limit} credits.",
    "quota.history": "Credit history of {user}:\n{entries}",
    "quota.history_empty": "{user} has no credit history yet.",
    "quota.history_entry": "{at} · {kind} {amount} · by {actor}",
    "quota.kind.reserve": "reserved",
    "quota.kind.commit": "spent",
    "quota.kind.refund": "refunded",
    "quota.kind.grant": "granted",
    "quota.kind.set": "limit set",
    # ------------------------------------------------------------------ commands (Discord ≤ 100)
    "command.sora": "Generate a short video from a text prompt",
    "command.quota": "Show or manage video credits",
    "command.help": "How to use this bot",
    "option.prompt": "What the video should show",
    "option.model": "Which model to use",
    "option.seconds": "Length in seconds",
    "option.orientation": "Portrait or landscape",
    "option.provider": "Which provider to use",
    "option.image": "An image to start from",
    "option.action": "What to do",
    "option.user": "Whose credits",
    "option.amount": "Number of credits",
    # ------------------------------------------------------------------ help
    "help": (
        "🎬 I turn a sentence into a short video.\n"
        "\n"
        "Make a video:\n"
        "/sora a cat surfing at sunset\n"
        "/sora --model sora-2-pro --seconds 12 --landscape a cat surfing\n"
        "\n"
        "Options go before the prompt:\n"
        "--model NAME (or -m): which model to use\n"
        "--seconds N (or -s): length in seconds\n"
        "--landscape / --portrait: orientation\n"
        "--provider NAME: choose the video service\n"
        "--: ends the options, if your prompt starts with a dash\n"
        "Attach an image to start the video from it (where the service allows).\n"
        "\n"
        "Change a video: reply to it with what to change, or tap “Remix”.\n"
        "\n"
        "/quota: your credits left this period\n"
        "\n"
        "For moderators (reply to someone instead of naming them):\n"
        "/quota show @user\n"
        "/quota set @user 10: set their limit\n"
        "/quota add @user 5: give extra credits\n"
        "/quota reset @user: start their period afresh\n"
        "/quota default 5: limit for everyone\n"
        "/quota history @user: their credit history"
    ),
    "help.models": "Models here: {models}",
    # ------------------------------------------------------------------ Discord
    "command.quota.me": "Your credits left this period",
    "command.quota.show": "A member’s credits (moderators)",
    "command.quota.set": "Set a member’s limit per period (moderators)",
    "command.quota.add": "Give a member extra credits (moderators)",
    "command.quota.reset": "Start a member’s period afresh (moderators)",
    "command.quota.default": "Set everyone’s limit here (moderators)",
    "command.quota.history": "A member’s credit history (moderators)",
    "command.remix_with_sora": "Remix with Sora",
    "discord.missing_permissions": (
        "I can’t post videos in this channel: I need the {permissions} permission here. "
        "Ask a server admin to grant it, or use me in another channel."
    ),
    "discord.permission.view_channel": "View Channel",
    "discord.permission.send_messages": "Send Messages",
    "discord.permission.send_messages_in_threads": "Send Messages in Threads",
    "discord.permission.attach_files": "Attach Files",
    "discord.permission.read_message_history": "Read Message History",
    "discord.command_failed": "Something went wrong on my side. Please try again.",
    "discord.help_reply": ", or reply to the video with your change",
    "discord.help": (
        "🎬 I turn a sentence into a short video.\n"
        "\n"
        "/sora prompt: a cat surfing at sunset\n"
        "Optional: model, seconds, orientation, image (start from a picture), "
        "provider (when there are several).\n"
        "\n"
        "Under each video, “Remix” asks what to change and “Again” makes another take. "
        "You can also open a video’s menu → Apps → “Remix with Sora”{reply_hint}.\n"
        "\n"
        "/quota me: your credits left this period\n"
        "\n"
        "Moderators (Manage Server, or a moderator role):\n"
        "/quota show user · /quota set user amount · /quota add user amount · "
        "/quota reset user · /quota default amount · /quota history user"
    ),
}
