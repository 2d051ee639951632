-- mod_mls_multicast: an XEP-0033 (Extended Stanza Addressing) multicast
-- service for trusted XEP-0114 components, written for xmpp-mls-bridge.
--
-- Why: a component that fans a room message out to N devices otherwise
-- sends N stanzas, each of which Prosody parses, routes and serializes. With
-- this service the component sends one stanza carrying the N recipients;
-- Prosody parses it once and routes N copies, as its own MUC does.
--
-- Load it as an internal component and name the components allowed to use it:
--
--   Component "multicast.example.org" "mls_multicast"
--       multicast_trusted_components = { "mls.example.org" }
--       -- multicast_max_addresses = 1000   (per stanza)
--       -- multicast_write_at_once = true   (a lone stanza's copies written as routed; see write_now)
--       -- multicast_burst_gap = 0.005      (seconds)
--
-- then give the bridge `component.multicast = "multicast.example.org"`.
--
-- Two forms of the recipient list, both only in <message/> stanzas from the
-- listed components (mod_component has already checked that their 'from' is
-- on the component's domain):
--
--  * XEP-0033: <addresses xmlns='http://jabber.org/protocol/address'> with
--    'to', 'cc' and 'bcc' addresses that have a 'jid' (§5, §9). Every address
--    is marked delivered='true' (§4.5); 'bcc' addresses are removed from the
--    copies (§4.6.3), and the element goes away when nothing is left in it.
--  * Compact (feature urn:xmpp:mls:multicast:0): <addresses
--    xmlns='urn:xmpp:mls:multicast:0'>, its text the recipients' JIDs one per
--    line (a JID never contains a line feed), all blind. Parsing one text
--    node instead of N elements saves about a tenth of Prosody's work per
--    delivered copy.

local st = require "util.stanza";
local jid_split = require "util.jid".split;

local NS_ADDRESS = "http://jabber.org/protocol/address";
local NS_COMPACT = "urn:xmpp:mls:multicast:0";

local trusted = module:get_option_set("multicast_trusted_components", {});
local max_addresses = module:get_option_number("multicast_max_addresses", 1000);
local write_at_once = module:get_option_boolean("multicast_write_at_once", true);
-- A multicast stanza that starts less than this after the previous one ended
-- is part of a burst (seconds; see write_now).
local burst_gap = module:get_option_number("multicast_burst_gap", 0.005);
local full_sessions = prosody.full_sessions;
local time = require "util.time";
local now = time.monotonic or time.now; -- monotonic: a clock step must not stall or force the decision
local previous_end = -math.huge;

module:depends("disco");
module:add_identity("service", "multicast", "Multicast for trusted components");
module:add_feature(NS_ADDRESS);
module:add_feature(NS_COMPACT);

local DELIVERY_TYPES = { to = true, cc = true, bcc = true };

local function too_many(stanza)
	return st.error_reply(stanza, "modify", "policy-violation", ("at most %d addresses per stanza"):format(max_addresses));
end

-- XEP-0033: the recipients and the addresses every copy keeps, or nil and an error reply.
local function xep0033_recipients(stanza, addresses)
	local targets, count, kept = {}, 0, {};
	for address in addresses:childtags("address", NS_ADDRESS) do
		local a = address.attr;
		if DELIVERY_TYPES[a.type] and a.delivered ~= "true" then
			local _, host = jid_split(a.jid);
			if not host or a.uri then
				return nil, st.error_reply(stanza, "modify", "jid-malformed", "every to/cc/bcc address needs a valid 'jid' (no 'uri')");
			end
			count = count + 1;
			if count > max_addresses then return nil, too_many(stanza); end
			targets[count] = a.jid;
		end
		if a.type ~= "bcc" then
			a.delivered = "true";
			kept[#kept + 1] = address;
		end
	end
	if count == 0 then
		return nil, st.error_reply(stanza, "modify", "bad-request", "no address to deliver to");
	end
	return targets, kept;
end

-- Compact: one JID per line, or nil and an error reply.
local function compact_recipients(stanza, list)
	local targets, count = {}, 0;
	for jid in list:get_text():gmatch("[^\n]+") do
		local _, host = jid_split(jid);
		if not host then
			return nil, st.error_reply(stanza, "modify", "jid-malformed", "not a JID: one JID per line");
		end
		count = count + 1;
		if count > max_addresses then return nil, too_many(stanza); end
		targets[count] = jid;
	end
	if count == 0 then
		return nil, st.error_reply(stanza, "modify", "bad-request", "no address to deliver to");
	end
	return targets;
end

-- server_epoll writes what a stanza left in a connection's buffer on its next
-- loop turn (unless network_settings.opportunistic_writes), so the first of N
-- copies leaves only once all N are routed, and the last recipient waits for
-- N routings plus N writes. When a multicast stanza comes alone, each local
-- device's copy is written as soon as it is routed, if its connection is idle
-- and the socket took the last write whole: the write server_epoll's
-- opportunistic mode does, for these copies only. In a burst (the stanza
-- starts within burst_gap of the previous one's end) the copies are left to
-- the loop, which then writes each connection's copies in one call (writing
-- each copy at once there cut full-speed throughput to a third). Anything
-- else (another backend, a busy or blocked socket, a remote or BOSH
-- recipient) is always left to the loop.
local function write_now(jid)
	local session = full_sessions[jid];
	local conn = session and session.conn;
	if type(conn) == "table" and conn._writable and not conn._writing and not conn._write_lock
		and conn.writebuffer and type(conn.onwritable) == "function" then
		conn:onwritable();
	end
end

module:hook("message/host", function(event)
	local origin, stanza = event.origin, event.stanza;
	local compact = stanza:get_child("addresses", NS_COMPACT);
	local addresses = compact or stanza:get_child("addresses", NS_ADDRESS);
	if not addresses then return; end -- not a multicast stanza: unhandled, Prosody answers
	if stanza.attr.type == "error" then return true; end
	if origin.type ~= "component" or not trusted:contains(origin.host) then
		origin.send(st.error_reply(stanza, "auth", "forbidden", "this multicast service only serves trusted components"));
		return true;
	end

	local targets, kept_or_err;
	if compact then
		targets, kept_or_err = compact_recipients(stanza, compact);
	else
		targets, kept_or_err = xep0033_recipients(stanza, addresses);
	end
	if not targets then
		origin.send(kept_or_err);
		return true;
	end

	stanza:remove_children("addresses", compact and NS_COMPACT or NS_ADDRESS);
	if not compact and #kept_or_err > 0 then
		local copy = st.stanza("addresses", { xmlns = NS_ADDRESS });
		for i = 1, #kept_or_err do copy:add_direct_child(kept_or_err[i]); end
		stanza:add_direct_child(copy);
	end

	-- One stanza, re-addressed for each recipient and sent at once, as mod_muc
	-- does for its occupants: sending serializes it (a queue that keeps
	-- stanzas, like mod_smacks, keeps a clone).
	local at_once = write_at_once and now() - previous_end >= burst_gap;
	for i = 1, #targets do
		local target = targets[i];
		stanza.attr.to = target;
		module:send(stanza);
		if at_once then write_now(target); end
	end
	previous_end = now();
	return true;
end);

module:log("info", "multicast for trusted components %s, at most %d addresses per stanza, copies written %s", tostring(trusted), max_addresses,
	write_at_once and ("as they are routed outside bursts (gap %g s)"):format(burst_gap) or "on the next loop turn");
