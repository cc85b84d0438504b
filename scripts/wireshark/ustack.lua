-- ustack.lua — Wireshark/tshark dissector for ustack's experimental TCP options.
--
-- Wire formats (RFC 6994 experimental options with a 16-bit ExID, both under kind 253):
--
--     kind=253 | length=4+N | ExID=0xD1 0x5C | N bytes of disconnect data   (DESIGN.md §3)
--     kind=253 | length=4   | ExID=0xD1 0x5D                                 (DESIGN.md §3b)
--
-- The second is the message-mode option: on a SYN it asks for a message-oriented socket
-- (SOCK_SEQPACKET), on a SYN-ACK it agrees; it carries no data. Both may ride on one SYN.
-- The first on a SYN is the disconnect-data offer, on a SYN-ACK its echo; there its N bytes
-- are *connect data* (DESIGN.md §3c): caller data on the SYN, callee data on the SYN-ACK, shown
-- as ustack.conn.* (N = 0 is the plain offer), never as disconnect data.
--
-- The script replaces the entry for kind 253 in the "tcp.option" dissector table (keyed by the
-- option kind; the tvb it hands us starts at the kind byte and spans exactly `length` bytes).
-- Options with our ExIDs are decoded here; anything else under kind 253 (other ExIDs, lengths
-- too short to hold an ExID) is handed back to the built-in TCP option dissector that was in
-- the table before, so Wireshark's own decoding is unchanged. Kind 254 (where e.g. the
-- experimental TCP Fast Open, ExID 0xF989, lives) is not touched at all.
--
-- Fields:
--   ustack                 the option (protocol item; filter "ustack" = frames carrying one)
--   ustack.kind            option kind (253)
--   ustack.len             option length (4+N, or 4)
--   ustack.exid            Experiment Identifier (0xD15C or 0xD15D)
--   ustack.disc.len        N, the number of disconnect-data bytes (a segment without SYN)
--   ustack.disc.data       the N bytes (absent when N == 0)
--   ustack.disc.total      when N == 8: the data as a signed 64-bit big-endian integer
--   ustack.conn.len        N on a SYN or SYN-ACK: the number of connect-data bytes (0: plain offer)
--   ustack.conn.data       the N bytes (absent when N == 0)
--   ustack.conn.caller     true on a SYN (caller data), ustack.conn.callee on a SYN-ACK
--   ustack.msg             true: a well-formed message-mode option (length 4)
--   ustack.msg.data        bytes a malformed message-mode option carries (ustack ignores it)
-- Expert info: "disconnect data (N bytes)", "caller data (N bytes)" / "callee data (N bytes)"
-- and "message-oriented socket (DESIGN.md §3b)" (notes), "message-mode option of length L: must
-- be 4, ustack ignores it" (warning). The Info column gets " DiscData=N", " ConnData=N" (on a
-- SYN or SYN-ACK) and " MsgMode".
--
-- Usage:  tshark -X lua_script:scripts/wireshark/ustack.lua -r cap.pcap -Y ustack -V
--         tshark -X lua_script:scripts/wireshark/ustack.lua -r cap.pcap -T fields -e ustack.disc.total
-- or copy into the personal Lua plugins folder (see scripts/wireshark/README.md).
-- Written for and tested with Wireshark/tshark 4.0 (Lua 5.2).

-- Loaded twice (personal plugin folder *and* -X lua_script:)? Keep the first copy: a second
-- Proto with the same name is an error, and chaining to ourselves would recurse.
-- (In 4.0 Dissector.get returns nil for an unknown name; older versions raised an error.)
do
    local ok, existing = pcall(Dissector.get, "ustack")
    if ok and existing then
        return
    end
end

local OPT_KIND = 253
local OUR_EXID = 0xD15C
local MSG_EXID = 0xD15D
local MSG_LEN = 4

local p = Proto("ustack", "ustack TCP options (kind 253: ExID 0xD15C disconnect data, 0xD15D message mode)")

local f_kind  = ProtoField.uint8("ustack.kind", "Kind", base.DEC)
local f_len   = ProtoField.uint8("ustack.len", "Length", base.DEC)
local f_exid  = ProtoField.uint16("ustack.exid", "Experiment Identifier", base.HEX)
local f_dlen  = ProtoField.uint8("ustack.disc.len", "Disconnect data length", base.DEC)
local f_data  = ProtoField.bytes("ustack.disc.data", "Disconnect data")
local f_total = ProtoField.int64("ustack.disc.total", "Disconnect data as int64 (big-endian)", base.DEC)
local f_msg   = ProtoField.bool("ustack.msg", "Message-oriented socket (DESIGN.md §3b)")
local f_mdata = ProtoField.bytes("ustack.msg.data", "Unexpected message-mode option data")
local f_clen  = ProtoField.uint8("ustack.conn.len", "Connect data length", base.DEC)
local f_cdata = ProtoField.bytes("ustack.conn.data", "Connect data")
local f_caller = ProtoField.bool("ustack.conn.caller", "Caller data (on the SYN, DESIGN.md §3c)")
local f_callee = ProtoField.bool("ustack.conn.callee", "Callee data (on the SYN-ACK, DESIGN.md §3c)")
p.fields = { f_kind, f_len, f_exid, f_dlen, f_data, f_total, f_msg, f_mdata, f_clen, f_cdata,
             f_caller, f_callee }

local e_disc = ProtoExpert.new("ustack.disc.expert", "Disconnect data",
                               expert.group.COMMENTS_GROUP, expert.severity.NOTE)
local e_msg = ProtoExpert.new("ustack.msg.expert", "Message-oriented socket",
                              expert.group.COMMENTS_GROUP, expert.severity.NOTE)
local e_msg_bad = ProtoExpert.new("ustack.msg.malformed", "Malformed message-mode option",
                                  expert.group.MALFORMED, expert.severity.WARN)
local e_conn = ProtoExpert.new("ustack.conn.expert", "Connect data",
                               expert.group.COMMENTS_GROUP, expert.severity.NOTE)
p.experts = { e_disc, e_msg, e_msg_bad, e_conn }

-- The TCP header's flags, dissected before its options: is the option on a SYN (SYN-ACK)?
local tcp_syn = Field.new("tcp.flags.syn")
local tcp_ack = Field.new("tcp.flags.ack")
local function flag(extractor)
    local ok, fi = pcall(extractor)
    return ok and fi ~= nil and fi.value == true
end

local option_table = DissectorTable.get("tcp.option")
-- Keep the built-in handler for kind 253 *before* replacing it (may be nil on builds that
-- do not register one; then foreign options are shown as undecoded bytes by us instead).
local builtin = option_table:get_dissector(OPT_KIND)

local function hand_back(tvb, pinfo, tree)
    if builtin then
        return builtin:call(tvb, pinfo, tree)
    end
    -- No built-in to chain to: at least show the raw option.
    tree:add(tvb(), string.format("TCP Option - Experimental (kind %d, %d bytes, not ustack)",
                                  OPT_KIND, tvb:len()))
    return tvb:len()
end

-- DESIGN.md §3b: kind 253, length 4, ExID 0xD15D, no data. A longer one is ours but malformed:
-- shown with a warning (the ustack codec ignores it and counts it, bad_message_option).
local function dissect_message_mode(tvb, pinfo, tree)
    local optlen = tvb:len()
    local item = tree:add(p, tvb(0, optlen))
    item:set_text("TCP Option - ustack Message-oriented socket (DESIGN.md §3b)")
    item:add(f_kind, tvb(0, 1))
    item:add(f_len, tvb(1, 1))
    item:add(f_exid, tvb(2, 2))
    if optlen == MSG_LEN then
        item:add(f_msg, tvb(2, 2), true):set_generated()
        item:add_proto_expert_info(e_msg, "message-oriented socket (DESIGN.md §3b)")
        pinfo.cols.info:append(" MsgMode")
    else
        item:append_text(string.format(", malformed (length %d)", optlen))
        item:add(f_mdata, tvb(4, optlen - 4))
        item:add_proto_expert_info(e_msg_bad, string.format(
            "message-mode option of length %d: must be %d, ustack ignores it", optlen, MSG_LEN))
    end
    return optlen
end

function p.dissector(tvb, pinfo, tree)
    local optlen = tvb:len()
    -- Too short for an ExID, cut short by the capture's snap length, or none of our ExIDs: not
    -- ours to decode (the built-in dissector reports short/truncated options properly).
    if optlen < 4 or optlen < tvb:reported_len() then
        return hand_back(tvb, pinfo, tree)
    end
    local exid = tvb(2, 2):uint()
    if exid == MSG_EXID then
        return dissect_message_mode(tvb, pinfo, tree)
    end
    if exid ~= OUR_EXID then
        return hand_back(tvb, pinfo, tree)
    end
    local n = optlen - 4

    if flag(tcp_syn) then
        -- DESIGN.md §3c: on a SYN the offer's data is caller data, on a SYN-ACK the echo's is
        -- callee data.
        local callee = flag(tcp_ack)
        local role = callee and "callee" or "caller"
        local item = tree:add(p, tvb(0, optlen))
        item:set_text(string.format("TCP Option - ustack Disconnect-data %s, %s data: %d byte%s",
                                    callee and "echo" or "offer", role, n, n == 1 and "" or "s"))
        item:add(f_kind, tvb(0, 1))
        item:add(f_len, tvb(1, 1))
        item:add(f_exid, tvb(2, 2))
        item:add(f_clen, tvb(1, 1), n):set_generated()
        item:add(callee and f_callee or f_caller, tvb(2, 2), true):set_generated()
        if n > 0 then
            item:add(f_cdata, tvb(4, n))
        end
        item:add_proto_expert_info(e_conn, string.format("%s data (%d bytes)", role, n))
        pinfo.cols.info:append(string.format(" ConnData=%d", n))
        return optlen
    end

    local item = tree:add(p, tvb(0, optlen))
    item:set_text(string.format("TCP Option - ustack Disconnect Data: %d byte%s", n,
                                n == 1 and "" or "s"))
    item:add(f_kind, tvb(0, 1))
    item:add(f_len, tvb(1, 1))
    item:add(f_exid, tvb(2, 2))
    item:add(f_dlen, tvb(1, 1), n):set_generated()
    if n > 0 then
        item:add(f_data, tvb(4, n))
    end
    if n == 8 then
        local total = tvb(4, 8):int64()
        item:add(f_total, tvb(4, 8), total)
        item:append_text(string.format(", total %s", tostring(total)))
    end
    item:add_proto_expert_info(e_disc, string.format("disconnect data (%d bytes)", n))

    pinfo.cols.info:append(string.format(" DiscData=%d", n))
    return optlen
end

option_table:add(OPT_KIND, p)
