/*
 * Settings that several daemons share, declared once so their name,
 * default and help can never drift apart between daemons (the prototype
 * died of a renamed secret). A daemon lists the tables it uses in its
 * struct daemon_spec next to its own table.
 */
#ifndef MERKAZIA_SETTINGS_H
#define MERKAZIA_SETTINGS_H

#include "config.h"

extern const struct config_key settings_openai[];
extern const struct config_key settings_twilio[];
extern const struct config_key settings_public[];
extern const struct config_key settings_follow[];

#endif
