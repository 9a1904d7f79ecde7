"""简体中文文案。键名和 ``{占位符}`` 必须与 ``en.py`` 完全一致（有测试检查）。

Plain text, like ``en.py``: the caller escapes the finished string for the platform's markup.
"""

from __future__ import annotations

from typing import Final

TEXTS: Final[dict[str, str]] = {
    # ------------------------------------------------------------------ input errors
    "empty_prompt": "想拍点什么？写在命令后面就行，比如：/sora 一只在夕阳下冲浪的猫",
    "prompt_too_long": "描述有 {length} 个字，超过了 {limit} 字的上限，精简一下吧。",
    "unknown_model": "没有叫“{model}”的模型。可以用的有：{allowed}。",
    "bad_seconds": "{model} 不能生成 {seconds} 秒的视频，可选时长：{allowed}。",
    "bad_orientation": "{model} 不支持 {orientation} 画面，可选：{allowed}。",
    "unknown_orientation": "看不懂画面方向“{orientation}”，请用：{allowed}。",
    "image_not_supported": "服务商 {provider} 不支持用图片生成视频。",
    "image_needs_url": (
        "服务商 {provider} 只能通过公开链接读取图片，而这张附件没有公开链接。"
        "可以去掉图片再试，或者用 --provider 换一个服务商。"
    ),
    "image_needs_file": (
        "服务商 {provider} 需要直接上传图片文件，光有链接不行。请把图片本身作为附件发送。"
    ),
    "image_unreadable": "这张图片打不开，请发送 JPEG、PNG 或 WebP 格式的图片。",
    "image_too_large": "图片太大了，换一张小一点的吧。",
    "remix_not_supported": "服务商 {provider} 不支持修改已有的视频。",
    "unknown_provider": "没有叫“{provider}”的服务商。可以用的有：{allowed}。",
    "ambiguous_provider": (
        "有好几个服务商都提供 {model}：{allowed}。请用 --provider 名称 指定一个。"
    ),
    "bad_number": "“{value}”不是 {flag} 能用的数字。",
    "unknown_flag": "不认识选项 {flag}。如果描述本身以短横线开头，请在前面加上 --。详见 /help。",
    "missing_value": "{flag} 后面需要跟一个值。",
    "unknown_quota_action": "/quota 没有“{action}”这个用法，详见 /help。",
    "not_a_job": "这条消息不是我生成的视频，没法在它的基础上修改。",
    "parent_not_ready": "这个视频还没做好，等它发出来以后再回复它吧。",
    "quota_exceeded": (
        "额度不够啦：这次需要 {cost} 次，你只剩 {remaining} 次。额度将在 {resets} 恢复。"
    ),
    "too_many_jobs": "你已经有 {limit} 个视频在生成中了，等其中一个完成后再来吧。",
    "not_moderator": "只有管理员才能这样操作。",
    "unknown_user": "找不到用户 {user}。",
    "missing_target": "要操作哪位用户？请写上用户，或者回复对方的一条消息。",
    "no_providers": "现在没有可用的视频服务，请稍后再试。",
    "shutting_down": "我正在重启，请过一分钟再试。",
    "unknown_command": "没有 /{command} 这个命令，详见 /help。",
    # ------------------------------------------------------------------ provider failures
    "failed.auth": "视频服务的配置出了问题（不是你的错），已经通知管理员了。",
    "failed.balance": "视频服务的余额用完了，请稍后再试。",
    "failed.model_unavailable": "模型 {model} 暂时用不了。",
    "failed.rate_limited": "视频服务现在太忙了，过几分钟再试吧。",
    "failed.bad_request": "视频服务拒绝了这个请求：{message}",
    "failed.content_policy": "这段描述没有通过视频服务的内容审核：{message}",
    "failed.transient": "视频服务出了点问题：{message}",
    "failed.generation_failed": "视频没能生成出来：{message}",
    "failed.expired": "视频生成好了，但还没来得及下载就过期了。",
    "failed.timeout": "等了 {minutes} 分钟还没有出结果，只好先停下了。",
    "failed.interrupted": "机器人在制作过程中重启了，这个任务没法接着做下去。",
    "failed.provider_gone": "这个任务用的视频服务已经不在配置里了。",
    "failed.undeliverable": "视频做好了，但没能发到这里：{message}",
    "failed.upload_unknown": (
        "平台没有回应这次上传，视频可能已经发在上面，也可能没有。为避免重复，没有再发一次。"
    ),
    "failed.cancelled": "管理员取消了这个任务。",
    "refunded": "已退还 {cost} 次额度。",
    "not_refunded": "这次仍会扣除额度。",
    "task_id": "任务编号：{task_id}",
    "unified_remix_note": (
        "这个服务商不能直接修改视频，所以会用原来的描述加上你的修改，重新生成一个。"
    ),
    "accepted": "收到！视频马上开始制作（任务 {job}）。",
    # ------------------------------------------------------------------ status
    "phase.queued": "排队中（第 {position} 位）",
    "phase.queued_unknown": "排队中",
    "phase.submitting": "正在提交",
    "phase.generating": "正在生成",
    "phase.downloading": "正在下载视频",
    "phase.fitting": "视频超出上传限制，正在压缩",
    "phase.uploading": "正在上传",
    "phase.done": "完成！",
    "phase.failed": "失败了。{reason}",
    "status.details": "{model} · {seconds} 秒 · {orientation}",
    "status.elapsed": "已用时 {elapsed}",
    "status.took": "用时 {elapsed}",
    "status.eta": "预计还要 {eta}",
    "orientation.portrait": "竖屏",
    "orientation.landscape": "横屏",
    # ------------------------------------------------------------------ delivery
    "caption": "{prompt}\n{model} · {seconds} 秒 · 剩余额度 {remaining} 次",
    "caption_unlimited": "{prompt}\n{model} · {seconds} 秒",
    "oversize_link": (
        "视频超过了这里 {limit_mb} MB 的上传限制，请通过链接下载（链接在 {expires} 失效）：{url}"
    ),
    "oversize_no_link": "视频超过了这里 {limit_mb} MB 的上传限制，也没能压缩到足够小，抱歉！",
    "button.remix": "改一改",
    "button.again": "再来一个",
    "remix_prompt": "想怎么改？回复这条消息（或那条视频），写上你的修改就行。",
    "remix.modal_title": "修改这个视频",
    "remix.modal_label": "想改成什么样？",
    "remix.modal_placeholder": "改成夜景，再加点雨……",
    # ------------------------------------------------------------------ quota
    "quota.me": (
        "你还剩 {remaining} 次额度，上限 {limit} 次（已用 {used} 次，额外获得 {granted} 次），"
        "将在 {resets} 恢复。"
    ),
    "quota.unlimited": "你的额度不受限制。",
    "quota.show": (
        "{user}：还剩 {remaining} 次，上限 {limit} 次（已用 {used} 次，额外获得 {granted} 次），"
        "将在 {resets} 恢复。"
    ),
    "quota.set_done": "已把 {user} 的额度上限设为 {limit} 次。",
    "quota.add_done": "已给 {user} 增加 {amount} 次额度，现在还剩 {remaining} 次。",
    "quota.reset_done": "已重置 {user} 本周期的额度。",
    "quota.default_done": "所有人的默认额度已改为 {limit} 次。",
    "quota.history": "{user} 的额度记录：\n{entries}",
    "quota.history_empty": "{user} 还没有额度记录。",
    "quota.history_entry": "{at} · {kind} {amount} · 操作人 {actor}",
    "quota.kind.reserve": "预扣",
    "quota.kind.commit": "消耗",
    "quota.kind.refund": "退还",
    "quota.kind.grant": "赠送",
    "quota.kind.set": "设定上限",
    # ------------------------------------------------------------------ commands (Discord ≤ 100)
    "command.sora": "用一句话生成短视频",
    "command.quota": "查看或管理视频额度",
    "command.help": "使用说明",
    "option.prompt": "想让视频里出现什么",
    "option.model": "使用哪个模型",
    "option.seconds": "视频时长（秒）",
    "option.orientation": "竖屏还是横屏",
    "option.provider": "使用哪个服务商",
    "option.image": "作为起点的图片",
    "option.action": "要做什么",
    "option.user": "哪位用户的额度",
    "option.amount": "额度次数",
    # ------------------------------------------------------------------ help
    "help": (
        "🎬 我能把一句话变成一段短视频。\n"
        "\n"
        "生成视频：\n"
        "/sora 一只在夕阳下冲浪的猫\n"
        "/sora --model sora-2-pro --seconds 12 --landscape a cat surfing\n"
        "\n"
        "选项写在描述前面：\n"
        "--model 名称（或 -m）：选择模型\n"
        "--seconds 秒数（或 -s）：视频时长\n"
        "--landscape 横屏 / --portrait 竖屏（也可以写 --横屏、--竖屏）\n"
        "--provider 名称：指定视频服务商\n"
        "--：选项到此为止，描述以短横线开头时用得上\n"
        "附上一张图片，就会以它为起点生成（需要服务商支持）。\n"
        "\n"
        "修改视频：回复生成的视频，写上想改的地方；或者点「改一改」按钮。\n"
        "\n"
        "/quota：查看本周期还剩多少额度\n"
        "\n"
        "管理员命令（回复某人的消息时可以省略 @用户）：\n"
        "/quota show @用户：查看额度\n"
        "/quota set @用户 10：设定额度上限\n"
        "/quota add @用户 5：额外赠送额度\n"
        "/quota reset @用户：重置本周期额度\n"
        "/quota default 5：设定所有人的默认额度\n"
        "/quota history @用户：查看额度记录"
    ),
    "help.models": "这里可用的模型：{models}",
    # ------------------------------------------------------------------ Discord
    "command.quota.me": "查看本周期还剩多少额度",
    "command.quota.show": "查看成员的额度（管理员）",
    "command.quota.set": "设定成员每周期的额度上限（管理员）",
    "command.quota.add": "给成员额外赠送额度（管理员）",
    "command.quota.reset": "重置成员本周期的额度（管理员）",
    "command.quota.default": "设定这里所有人的默认额度（管理员）",
    "command.quota.history": "查看成员的额度记录（管理员）",
    "command.remix_with_sora": "用 Sora 改一改",
    "discord.missing_permissions": (
        "我没法在这个频道发视频：需要在这里拥有 {permissions} 权限。"
        "请服务器管理员授予权限，或者换个频道使用。"
    ),
    "discord.permission.view_channel": "查看频道",
    "discord.permission.send_messages": "发送消息",
    "discord.permission.send_messages_in_threads": "在子区中发送消息",
    "discord.permission.attach_files": "附加文件",
    "discord.permission.read_message_history": "阅读消息历史",
    "discord.command_failed": "我这边出了点问题，请再试一次。",
    "discord.help_reply": "，或者直接回复视频写上想改的地方",
    "discord.help": (
        "🎬 我能把一句话变成一段短视频。\n"
        "\n"
        "/sora prompt: 一只在夕阳下冲浪的猫\n"
        "可选：model（模型）、seconds（时长）、orientation（横竖屏）、image（以图片为起点）、"
        "provider（有多个服务商时）。\n"
        "\n"
        "每个视频下面：点「改一改」写上想改的地方，点「再来一个」重新生成一版。"
        "也可以打开视频的菜单 → 应用 → 「用 Sora 改一改」{reply_hint}。\n"
        "\n"
        "/quota me：查看本周期还剩多少额度\n"
        "\n"
        "管理员（拥有“管理服务器”权限或管理员身份组）：\n"
        "/quota show 用户 · /quota set 用户 次数 · /quota add 用户 次数 · "
        "/quota reset 用户 · /quota default 次数 · /quota history 用户"
    ),
}
