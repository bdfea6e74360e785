libtlsrelay_a_SOURCES += \
	src/conf/conf.c \
	src/conf/conf_expand.c \
	src/conf/conf_int.h \
	src/conf/conf_lex.c \
	src/conf/conf_master.c \
	src/conf/conf_params.c \
	src/conf/conf_postfix_names.c \
	src/conf/conf_resolve.c \
	src/conf/conf_value.c
