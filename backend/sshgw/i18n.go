package sshgw

import "fmt"

// msgKey names a message the gateway shows in the user's terminal.
type msgKey int

// Messages of the picker and of connecting to a target.
const (
	mTitle msgKey = iota
	mSearch
	mSearchHint
	mNoAssets
	mNoMatch
	mPage
	mFooter
	mHelpTitle
	mHelp
	mPressKey
	mChooseAccount
	mAccountsFooter
	mUsername
	mPassword
	mConnecting
	mConnected
	mDisconnected
	mBye
	mDenied
	mNotFound
	mNoProtocol
	mHostKeyChanged
	mDialFailed
	mAuthFailed
	mInternal
	mChooseAccountHint
	mNeedTTY
	mNeedAccount
	mNeedTarget
	mRecordingFailed
	mCommandDenied
	mWaitApproval
	mApprovalRejected
	mApprovalExpired
	mAgentDenied
	mKilled
	mLoadFailed
)

var messages = map[string][]string{
	"en": {
		mTitle:             "Portcullis  %s  (%d assets)",
		mSearch:            "Search: ",
		mSearchHint:        "type to search",
		mNoAssets:          "You have no assets. Ask an administrator for a permission.",
		mNoMatch:           "No asset matches.",
		mPage:              "page %d/%d",
		mFooter:            "↑↓/jk move  PgUp/PgDn page  Enter connect  / search  ? help  q quit",
		mHelpTitle:         "Help",
		mHelp:              "Type letters or / to search by name or address (Esc leaves the search box).\r\n↑ ↓ or k j: move   PgUp PgDn: page   Home End: first, last\r\nEnter: connect   Ctrl-U: clear the search   ?: this help   q or Ctrl-D: quit\r\nDirect connection: ssh -p PORT user@asset@bastion or user@account@asset@bastion.\r\nWhen a session ends you come back to this list.",
		mPressKey:          "Press any key to go back.",
		mChooseAccount:     "Choose an account on %s:",
		mAccountsFooter:    "↑↓/jk move  Enter connect  Esc back",
		mUsername:          "Username: ",
		mPassword:          "Password: ",
		mConnecting:        "Connecting to %s as %s...",
		mConnected:         "Connected to %s.",
		mDisconnected:      "Disconnected from %s (%s).",
		mBye:               "Bye.",
		mDenied:            "Access to %s is not permitted.",
		mNotFound:          "No asset named %s is available to you.",
		mNoProtocol:        "%s cannot be reached from the SSH gateway (no SSH or telnet protocol permitted).",
		mHostKeyChanged:    "The host key of %s has changed: connection refused. Administrators have been alerted.",
		mDialFailed:        "Cannot connect to %s: %s",
		mAuthFailed:        "Authentication to %s as %s failed.",
		mInternal:          "Internal error; the administrators can find it in the server log.",
		mChooseAccountHint: "Several accounts are available on %s: %s. Use user@account@asset@bastion.",
		mNeedTTY:           "This account needs an interactive terminal (ssh -t).",
		mNeedAccount:       "Choose an account: ",
		mNeedTarget:        "No target: use ssh -p PORT user@asset@bastion COMMAND.",
		mRecordingFailed:   "The session cannot be recorded, so it is refused.",
		mCommandDenied:     "Command refused by rule %q: %s",
		mWaitApproval:      "Command %q needs approval; waiting for an approver...",
		mApprovalRejected:  "Command refused by the approver %s.",
		mApprovalExpired:   "Nobody approved the command in time; refused.",
		mAgentDenied:       "Agent forwarding to %s is not permitted; continuing without it.",
		mKilled:            "Session ended: %s",
		mLoadFailed:        "Cannot load your assets; try again later.",
	},
	"zh-CN": {
		mTitle:             "Portcullis  %s  （共 %d 台资产）",
		mSearch:            "搜索：",
		mSearchHint:        "输入以搜索",
		mNoAssets:          "您没有可访问的资产，请联系管理员授权。",
		mNoMatch:           "没有匹配的资产。",
		mPage:              "第 %d/%d 页",
		mFooter:            "↑↓/jk 移动  PgUp/PgDn 翻页  回车 连接  / 搜索  ? 帮助  q 退出",
		mHelpTitle:         "帮助",
		mHelp:              "输入字母或按 / 按名称或地址搜索（Esc 离开搜索框）。\r\n↑ ↓ 或 k j：移动   PgUp PgDn：翻页   Home End：首项、末项\r\n回车：连接   Ctrl-U：清空搜索   ?：本帮助   q 或 Ctrl-D：退出\r\n直接连接：ssh -p 端口 用户@资产@堡垒机 或 用户@账号@资产@堡垒机。\r\n会话结束后返回此列表。",
		mPressKey:          "按任意键返回。",
		mChooseAccount:     "选择 %s 上的账号：",
		mAccountsFooter:    "↑↓/jk 移动  回车 连接  Esc 返回",
		mUsername:          "用户名：",
		mPassword:          "密码：",
		mConnecting:        "正在以 %[2]s 连接 %[1]s……",
		mConnected:         "已连接 %s。",
		mDisconnected:      "已断开 %s（%s）。",
		mBye:               "再见。",
		mDenied:            "无权访问 %s。",
		mNotFound:          "没有名为 %s 的可用资产。",
		mNoProtocol:        "无法通过 SSH 网关访问 %s（未授权 SSH 或 Telnet 协议）。",
		mHostKeyChanged:    "%s 的主机密钥已变更：拒绝连接，已通知管理员。",
		mDialFailed:        "无法连接 %s：%s",
		mAuthFailed:        "以 %[2]s 登录 %[1]s 失败。",
		mInternal:          "内部错误，管理员可在服务器日志中查看。",
		mChooseAccountHint: "%s 上有多个可用账号：%s。请使用 用户@账号@资产@堡垒机。",
		mNeedTTY:           "此账号需要交互式终端（ssh -t）。",
		mNeedAccount:       "选择账号：",
		mNeedTarget:        "未指定目标：请使用 ssh -p 端口 用户@资产@堡垒机 命令。",
		mRecordingFailed:   "无法录制会话，已拒绝。",
		mCommandDenied:     "命令被规则 %q 拒绝：%s",
		mWaitApproval:      "命令 %q 需要审批，正在等待审批人……",
		mApprovalRejected:  "命令被审批人 %s 拒绝。",
		mApprovalExpired:   "审批超时，命令已拒绝。",
		mAgentDenied:       "无权向 %s 转发 agent，将不转发继续。",
		mKilled:            "会话已结束：%s",
		mLoadFailed:        "无法加载您的资产，请稍后重试。",
	},
}

// tr returns message k in lang ("en" or "zh-CN"), formatted with args.
func tr(lang string, k msgKey, args ...any) string {
	list, ok := messages[lang]
	if !ok || int(k) >= len(list) || list[k] == "" {
		list = messages["en"]
	}
	if len(args) == 0 {
		return list[k]
	}
	return fmt.Sprintf(list[k], args...)
}
